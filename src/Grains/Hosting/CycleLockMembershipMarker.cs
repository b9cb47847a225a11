namespace CycleLock.Hosting;

/// <summary>Registered by <see cref="CycleLockClustering.UseCycleLockClustering(ISiloBuilder, string, bool)"/>: the silo's
/// membership lives in CycleLock's schema, so the start-up check covers the membership query table too.</summary>
internal sealed class CycleLockMembershipMarker;
