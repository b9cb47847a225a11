using CycleLock.Testing;

namespace CycleLock.Tests.SiloHost;

/// <summary>Invalid configuration stops the silo's start with a message naming the key.</summary>
[Collection(HostCollection.Name)]
public sealed class SiloConfigurationTests(SiloHostFixture fixture)
{
    [Theory]
    [InlineData("CycleLock:ConnectionString", "", "CycleLock:ConnectionString is not set")]
    [InlineData("CycleLock:Silo:GatewayPort", "70000", "CycleLock:Silo:GatewayPort = 70000 is out of range")]
    [InlineData("CycleLock:Silo:Clustering", "Zookeeper", "CycleLock:Silo:Clustering = 'Zookeeper' is not valid")]
    [InlineData("CycleLock:Web:Url", "http://0.0.0.0:18080", "CycleLock:Web:Password is not set")]
    [InlineData("CycleLock:Locks:HolderTimeoutFraction", "0.1", "CycleLock:Locks:HolderTimeoutFraction")]
    [InlineData("CycleLock:Silo:ProbeTimeout", "banana", "CycleLock:Silo:ProbeTimeout")]
    [InlineData("CycleLock:Store:GrantLockTimeout", "soon", "CycleLock:Store:GrantLockTimeout")]
    [InlineData("CycleLock:Silo:Kubernetes", "true", "CycleLock:Silo:Kubernetes = true needs CycleLock:Silo:Clustering = AdoNet")]
    [InlineData("CycleLock:ConnectionString", "Hots=nowhere;Pasword=secret", "CycleLock:ConnectionString is not a valid PostgreSQL connection string")]
    [InlineData("CycleLock:Silo:GatewayListeningPort", "30001", "CycleLock:Silo:GatewayListeningPort = 30001 needs CycleLock:Silo:Clustering = AdoNet")]
    [InlineData("CycleLock:Locks:CoalescingWindow", "00:00:01", "CycleLock:Locks:CoalescingWindow 00:00:01 exceeds min(MinAttemptTimeout, MaxAttemptTimeout) / 2")]
    [InlineData("CycleLock:Access:Credentials:ops:Secret", "please-change-me-now", "CycleLock:Access:Credentials:ops:Secret is a placeholder")]
    [InlineData("CycleLock:Access:Credentials:ops:Secret", "short", "CycleLock:Access:Credentials:ops:Secret has 5 characters (rule: 16 to 1024")]
    [InlineData("CycleLock:Silo:AdvertisedAddress", "10.9.8.7", "'10.9.8.7' is not loopback and CycleLock:Access:Credentials is empty")]
    [InlineData("CycleLock:Silo:AdvertisedAddress", "10.9.8.8", "'10.9.8.8' is not loopback and CycleLock:Tls:CertificateFile is not set (rule: a silo reachable beyond loopback talks to silos and clients over mutual TLS")]
    [InlineData("CycleLock:Tls:CertificateFile", "/nonexistent/silo.crt", "CycleLock:Tls:CertificateFile = '/nonexistent/silo.crt' cannot be loaded")]
    [InlineData("CycleLock:Web:Password", "change-me-now-please", "CycleLock:Web:Password is a placeholder")]
    [InlineData("CycleLock:Web:Url", "http://0.0.0.0:18081", "CycleLock:Web:AllowedHosts is not set")]
    public async Task InvalidSetting_StopsTheStart_NamingTheKey(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string> { [key] = value };
        if (value == "http://0.0.0.0:18081")
        {
            settings["CycleLock:Web:Password"] = "web-pw-8Zq4tRx2Lm"; // past the password rule, to the host rule
            settings["CycleLock:Web:AllowPlainHttp"] = "true";
        }

        if (key == "CycleLock:Silo:AdvertisedAddress")
        {
            settings["CycleLock:Silo:Clustering"] = "AdoNet"; // an address other silos and clients reach
        }

        if (key.StartsWith("CycleLock:Access:Credentials:ops", StringComparison.Ordinal))
        {
            settings["CycleLock:Access:Credentials:ops:Role"] = "Operator";
        }

        if (key == "CycleLock:Locks:HolderTimeoutFraction")
        {
            settings["CycleLock:Locks:RenewFraction"] = "0.3"; // ht = 0.1 TTL is not above P = 0.3 TTL
        }

        var connection = key == "CycleLock:ConnectionString" ? value : fixture.Postgres.ConnectionString;
        await using var silo = SiloProcess.Start(connection, "bad-config-" + Guid.NewGuid().ToString("N")[..6], settings);
        var code = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        TestContext.Current.SendDiagnosticMessage($"{key}={value}: exit {code}: {silo.Output.Trim()}");
        Assert.Equal(2, code);
        Assert.Contains(expected, silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", silo.Output, StringComparison.Ordinal); // a connection string's values never reach the output
        Assert.DoesNotContain("please-change-me-now", silo.Output, StringComparison.Ordinal); // nor a credential's
    }

    [Fact]
    public async Task Migrate_AgainstAnUnreachableDatabase_ExitsThree_SayingWhatToCheck()
    {
        var port = Ports.Free().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var result = await Tools.RunAsync("dotnet", [BuildOutput.Of("src/Silo", "CycleLock.Silo.dll"), "migrate"], throwOnError: false,
            environment: new Dictionary<string, string> { ["CycleLock__ConnectionString"] = $"Host=127.0.0.1;Port={port};Username=nobody;Password=unreachable-pw-1234;Timeout=3" },
            timeout: TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 3, $"exit {result.ExitCode}: {result.StandardError}");
        Assert.Contains("cyclelock-silo: migrate could not reach the database", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("unreachable-pw-1234", result.StandardOutput + result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.StandardError, StringComparison.Ordinal); // a message, not a stack trace
    }
}
