using CycleLock.Persistence;
using CycleLock.Silo;
using Microsoft.Extensions.Options;
using Npgsql;

try
{
    if (args is ["migrate", ..])
    {
        // `CycleLock.Silo migrate`: apply the schema (lease store and Orleans membership) and exit; run it once
        // before the first silo with AdoNet membership starts.
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args[1..]).Build();
        var connection = configuration["CycleLock:ConnectionString"];
        if (string.IsNullOrWhiteSpace(connection))
        {
            throw new SiloConfigurationException("Invalid CycleLock silo configuration: CycleLock:ConnectionString is not set (rule: a PostgreSQL connection string).");
        }

        await using var dataSource = NpgsqlDataSource.Create(connection);
        var applied = await MigrationRunner.MigrateAsync(dataSource);
        Console.WriteLine(applied.Count == 0 ? "cyclelock-silo: schema is up to date" : $"cyclelock-silo: applied migrations {string.Join(", ", applied)}");
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
