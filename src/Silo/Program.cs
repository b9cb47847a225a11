using CycleLock.Persistence;
using CycleLock.Silo;
using Microsoft.Extensions.Options;
using Npgsql;

try
{
    if (args is ["migrate", ..])
    {
        // `CycleLock.Silo migrate [--runtime-role ROLE]...`: apply the schema (lease store and Orleans membership)
        // and the runtime roles' defaults, then exit. Run it once per release, before silos start; silos only check.
        var (roles, rest) = MigrateArguments.Parse(args[1..]);
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(rest).Build();
        var connection = configuration["CycleLock:ConnectionString"];
        if (string.IsNullOrWhiteSpace(connection))
        {
            throw new SiloConfigurationException("Invalid CycleLock silo configuration: CycleLock:ConnectionString is not set (rule: a PostgreSQL connection string).");
        }

        await using var dataSource = NpgsqlDataSource.Create(connection);
        var applied = await MigrationRunner.MigrateAsync(dataSource, roles);
        Console.WriteLine(applied.Count == 0 ? "cyclelock-silo: schema is up to date" : $"cyclelock-silo: applied migrations {string.Join(", ", applied)}");
        return 0;
    }

    if (args is ["tls-certs", "--out", var directory, ..])
    {
        // `CycleLock.Silo tls-certs --out DIR [--days N]`: a throwaway CA and a silo and a client certificate for a local
        // cluster (deploy/local --tls). Never for production: there the organisation's CA issues them.
        var days = args is [_, _, _, "--days", var d] && int.TryParse(d, System.Globalization.CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 3650 ? n : 30;
        DevCertificates.WriteLocalSet(directory, days);
        Console.WriteLine($"cyclelock-silo: wrote ca, silo and client certificates (valid {days} days) to {directory}");
        return 0;
    }

    var builder = WebApplication.CreateBuilder(args);
    builder.AddCycleLockSilo();

    var app = builder.Build();
    app.MapCycleLockEndpoints();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (e is SiloConfigurationException or OptionsValidationException
                           || (e is AggregateException all && all.InnerExceptions.All(i => i is OptionsValidationException)))
{
    // A bad value stops the start with a message naming the key.
    var message = e is AggregateException many ? string.Join(" ", many.InnerExceptions.Select(i => i.Message)) : e.Message;
    await Console.Error.WriteLineAsync($"cyclelock-silo: {message}");
    return 2;
}
catch (Exception e) when (args is ["migrate", ..] && StartupFailure.Find<NpgsqlException>(e) is { } database)
{
    // The database cannot be reached or refused the login: say which server, never the connection string's secrets.
    await Console.Error.WriteLineAsync($"cyclelock-silo: migrate could not reach the database: {database.Message.Split('\n')[0]} (exit 3: check CycleLock:ConnectionString's Host, Port, Username and the server; a step that did not finish was rolled back)");
    return 3;
}
catch (Exception e) when (StartupFailure.Find<LeaseStoreConfigurationException>(e) is { } configuration)
{
    // The database is not ready for this silo (schema not migrated, synchronous_commit off, membership queries
    // not resolvable): the message says what to run.
    await Console.Error.WriteLineAsync($"cyclelock-silo: {configuration.Message}");
    return 2;
}
