using CycleLock.Silo;
using Microsoft.Extensions.Options;

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddCycleLockSilo();

    var app = builder.Build();
    app.MapCycleLockEndpoints();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (e is SiloConfigurationException or OptionsValidationException)
{
    // A bad value stops the start with a message naming the key.
    await Console.Error.WriteLineAsync($"cyclelock-silo: {e.Message}");
    return 2;
}
