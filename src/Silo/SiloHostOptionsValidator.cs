using System.Net;
using CycleLock.Security;

namespace CycleLock.Silo;

/// <summary>Checks the host's own settings before anything starts (the host is built from them, so this runs before
/// options validation could): the data annotations of <see cref="SiloHostOptions"/> and <see cref="WebOptions"/>
/// (<see cref="SettingRules"/>) and the rules across settings here; every failure names the key, the value and the rule.</summary>
public static class SiloHostOptionsValidator
{
    /// <summary>The shortest web password accepted.</summary>
    public const int WebPasswordMinLength = 12;

    /// <summary>Throws <see cref="SiloConfigurationException"/> listing every failure, if any.</summary>
    public static void ThrowIfInvalid(SiloHostOptions silo, WebOptions web, string? connectionString, AccessOptions? access = null, CycleLockTlsOptions? tls = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(web);
        access ??= new AccessOptions();
        tls ??= new CycleLockTlsOptions();
        var failures = new List<string>();
        if (new AccessOptionsValidator().Validate(null, access) is { Failed: true } accessResult)
        {
            failures.AddRange(accessResult.Failures);
        }

        if (tls.Enabled)
        {
            try
            {
                CycleLockTls.Load(tls, CycleLockTlsOptions.SiloSection).Certificate.Dispose();
            }
            catch (CycleLockTlsException e)
            {
                failures.Add(e.Message);
            }
        }
        else if (!tls.AllowInsecure && BeyondLoopback(silo) is { } exposed)
        {
            failures.Add($"{exposed} and {CycleLockTlsOptions.SiloSection}:CertificateFile is not set (rule: a silo reachable beyond loopback talks to silos and clients over mutual TLS — CertificateFile, KeyFile, CaFile — or {CycleLockTlsOptions.SiloSection}:AllowInsecure = true, e.g. behind a private network's own encryption).");
        }

        if (access.Credentials.Count == 0 && !access.AllowAnonymous && BeyondLoopback(silo) is { } where)
        {
            failures.Add($"{where} and {AccessOptions.Section}:Credentials is empty (rule: a silo reachable beyond loopback requires credentials, or {AccessOptions.Section}:AllowAnonymous = true to let every client act as an operator).");
        }

        if (string.IsNullOrWhiteSpace(connectionString))
        {
            failures.Add("CycleLock:ConnectionString is not set (rule: a PostgreSQL connection string, e.g. the environment variable CycleLock__ConnectionString).");
        }
        else
        {
            try
            {
                var parsed = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
                if (parsed.Password is { Length: > 0 } password && AccessOptionsValidator.PlaceholderIn(password) is { } placeholder)
                {
                    failures.Add($"CycleLock:ConnectionString has a placeholder password (rule: nothing containing '{placeholder}'; set the database role's real password; the value is not shown).");
                }
            }
            catch (ArgumentException e)
            {
                // The message names the offending keyword, never the value (it may hold the password).
                failures.Add($"CycleLock:ConnectionString is not a valid PostgreSQL connection string ({e.Message.Split('\n')[0]}).");
            }
        }

        if (silo.Kubernetes && silo.Clustering != "AdoNet")
        {
            failures.Add($"CycleLock:Silo:Kubernetes = true needs CycleLock:Silo:Clustering = AdoNet (it is '{silo.Clustering}').");
        }

        failures.AddRange(SettingRules.Check(silo, SiloHostOptions.Section));
        failures.AddRange(SettingRules.Check(web, WebOptions.Section));
        if (!IPAddress.TryParse(silo.AdvertisedAddress, out _))
        {
            failures.Add($"CycleLock:Silo:AdvertisedAddress = '{silo.AdvertisedAddress}' is not an IP address.");
        }

        if (silo.GatewayListeningPort is { } listening)
        {
            if (listening == silo.SiloPort)
            {
                failures.Add($"CycleLock:Silo:GatewayListeningPort and CycleLock:Silo:SiloPort are both {listening} (rule: two different ports).");
            }

            if (silo.Kubernetes || silo.Clustering != "AdoNet")
            {
                failures.Add($"CycleLock:Silo:GatewayListeningPort = {listening} needs CycleLock:Silo:Clustering = AdoNet without Kubernetes (rule: localhost clustering and Kubernetes hosting pick their own endpoints).");
            }
        }

        if (silo.SiloPort == silo.GatewayPort)
        {
            failures.Add($"CycleLock:Silo:SiloPort and CycleLock:Silo:GatewayPort are both {silo.SiloPort} (rule: two different ports).");
        }

        if (web.Password is { Length: > 0 } webPassword && AccessOptionsValidator.SecretProblem(webPassword, WebPasswordMinLength) is { } weak)
        {
            failures.Add($"CycleLock:Web:Password {weak}");
        }

        if (!Uri.TryCreate(web.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Port is < 1 or > 65535)
        {
            failures.Add($"CycleLock:Web:Url = '{web.Url}' is not valid (rule: an absolute http or https URL with a port).");
        }
        else if (!IsLoopback(url) && string.IsNullOrEmpty(web.Password))
        {
            failures.Add($"CycleLock:Web:Url = '{web.Url}' is not a loopback address and CycleLock:Web:Password is not set (rule: the dashboard and the lease view require authentication when exposed).");
        }
        else if (web.AllowedHostList().Count == 0)
        {
            failures.Add($"CycleLock:Web:Url = '{web.Url}' listens on every address and CycleLock:Web:AllowedHosts is not set (rule: the host names clients use, separated by ';', e.g. cyclelock.example.internal;localhost).");
        }
        else if (!IsLoopback(url) && url.Scheme == "http" && !web.AllowPlainHttp)
        {
            failures.Add($"CycleLock:Web:Url = '{web.Url}' would send the password in clear text (rule: https, or CycleLock:Web:AllowPlainHttp = true when TLS terminates in front of the silo).");
        }

        if (failures.Count > 0)
        {
            throw new SiloConfigurationException("Invalid CycleLock silo configuration: " + string.Join(" ", failures));
        }
    }

    // Where the silo's endpoints leave loopback, or null when they do not.
    private static string? BeyondLoopback(SiloHostOptions silo) =>
        silo.Clustering != "AdoNet" ? null
        : silo.Kubernetes ? "CycleLock:Silo:Kubernetes = true (the pod's address)"
        : IPAddress.TryParse(silo.AdvertisedAddress, out var address) && IPAddress.IsLoopback(address) ? null
        : $"CycleLock:Silo:AdvertisedAddress = '{silo.AdvertisedAddress}' is not loopback";

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
