using System.Net;

namespace CycleLock.Silo;

/// <summary>Checks the host's own settings before anything starts (the host is built from them, so this runs before
/// options validation could): the data annotations of <see cref="SiloHostOptions"/> and <see cref="WebOptions"/>
/// (<see cref="SettingRules"/>) and the rules across settings here; every failure names the key, the value and the rule.</summary>
public static class SiloHostOptionsValidator
{
    /// <summary>Throws <see cref="SiloConfigurationException"/> listing every failure, if any.</summary>
    public static void ThrowIfInvalid(SiloHostOptions silo, WebOptions web, string? connectionString)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(web);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            failures.Add("CycleLock:ConnectionString is not set (rule: a PostgreSQL connection string, e.g. the environment variable CycleLock__ConnectionString).");
        }
        else
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
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

        if (!Uri.TryCreate(web.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Port is < 1 or > 65535)
        {
            failures.Add($"CycleLock:Web:Url = '{web.Url}' is not valid (rule: an absolute http or https URL with a port).");
        }
        else if (!IsLoopback(url) && string.IsNullOrEmpty(web.Password))
        {
            failures.Add($"CycleLock:Web:Url = '{web.Url}' is not a loopback address and CycleLock:Web:Password is not set (rule: the dashboard and the lease view require authentication when exposed).");
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

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
