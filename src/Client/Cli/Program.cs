using CycleLock.Cli;

return await DemoCommand.RunAsync(args);
