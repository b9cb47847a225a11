using CycleLock.Silo;

var builder = WebApplication.CreateBuilder(args);
builder.AddCycleLockSilo();

var app = builder.Build();
app.MapCycleLockEndpoints();
await app.RunAsync();
