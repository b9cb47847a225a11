// CycleLock's quick start, built from the packages alone: acquire a lock and run under it, release it; acquire
// another and lose it (an operator force-releases it) — the holder learns of it as a cancellation.
//   dotnet run -- [--Cluster:GatewayPort=30000] [--Cluster:ServiceId=cyclelock] [--Cluster:ClusterId=dev] [--Sample:TtlSeconds=30]
// A cluster that checks credentials wants one with operator rights for the loss step:
//   CycleLock__Client__Credential=NAME:SECRET dotnet run
using CycleLock.Client;
using Medallion.Threading;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var gatewayPort = builder.Configuration.GetValue("Cluster:GatewayPort", 30000);
var serviceId = builder.Configuration.GetValue("Cluster:ServiceId", "cyclelock")!;
var clusterId = builder.Configuration.GetValue("Cluster:ClusterId", "dev")!;
var ttl = TimeSpan.FromSeconds(builder.Configuration.GetValue("Sample:TtlSeconds", 30));
var prefix = builder.Configuration.GetValue("Sample:Prefix", "quickstart")!;

// One line for the SDK, one for code written against DistributedLock's IDistributedLockProvider.
builder.AddCycleLockClient(orleans => orleans.UseLocalhostClustering(gatewayPort, serviceId, clusterId));
builder.Services.AddCycleLockDistributedLockProvider(ttl);

using var host = builder.Build();
await host.StartAsync();
var locks = host.Services.GetRequiredService<CycleLockClient>();
var provider = host.Services.GetRequiredService<IDistributedLockProvider>();

// 1. Acquire, run, release — through the DistributedLock abstraction. The lease is kept alive while the handle
//    is held; HandleLostToken fires if ownership is lost; disposing releases.
var report = $"{prefix}/nightly-report";
await using (var handle = await provider.AcquireLockAsync(report, TimeSpan.FromSeconds(30)))
{
    var epoch = ((CycleLock.DistributedLock.CycleLockDistributedLockHandle)handle).Epoch;
    Console.WriteLine($"acquired {report} epoch {epoch}");
    await Task.Delay(TimeSpan.FromMilliseconds(300), handle.HandleLostToken); // the job; fence its writes with the epoch
    Console.WriteLine($"ran {report} epoch {epoch}");
}

Console.WriteLine($"released {report}: {(await locks.InspectAsync(report)).State}");

// 2. Acquire and lose — through the SDK. An operator force-releases the lease (here the sample plays the
//    operator); the holder's LostToken fires and it stops acting as the holder.
var invoices = $"{prefix}/invoices";
var result = await locks.TryAcquireAsync(invoices, ttl);
if (!result.Acquired)
{
    Console.WriteLine($"busy {invoices}: {result}");
    return 1;
}

await using (var lease = result.Handle!)
{
    Console.WriteLine($"acquired {invoices} epoch {lease.Epoch}");
    var forced = await locks.ForceReleaseAsync(invoices, lease.Epoch, "quickstart: show a loss", "quickstart");
    Console.WriteLine($"force-release {invoices}: {forced.Status}");
    try
    {
        await Task.Delay(ttl * 2, lease.LostToken);
        Console.WriteLine($"still held {invoices}?");
        return 1;
    }
    catch (OperationCanceledException)
    {
        Console.WriteLine($"lost {invoices} epoch {lease.Epoch}: {lease.EndReason}");
    }
}

await host.StopAsync();
Console.WriteLine("done");
return 0;
