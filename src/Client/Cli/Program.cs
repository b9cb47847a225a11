using System.CommandLine;
using CycleLock.Cli;

var root = new RootCommand($"cyclelock: inspect and operate CycleLock job locks through a silo gateway. {ExitCodes.Help}.")
{
    ClusterConnection.Gateways,
    ClusterConnection.ServiceId,
    ClusterConnection.ClusterId,
    ClusterConnection.CredentialFile,
    Commands.List(),
    Commands.Inspect(),
    Commands.Watch(),
    Commands.ForceRelease(),
    Commands.Reset(),
    Commands.Hold(),
    DemoCommand.Create(),
};

if (Console.IsOutputRedirected)
{
    // Piped or captured: lay tables out wide rather than wrapping names at 80 columns.
    Spectre.Console.AnsiConsole.Profile.Width = 240;
}

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors)
    {
        await Console.Error.WriteLineAsync($"cyclelock: {error.Message}");
    }

    await Console.Error.WriteLineAsync("cyclelock: see 'cyclelock --help'; nothing was sent");
    return ExitCodes.BadArguments;
}

return await parse.InvokeAsync();
