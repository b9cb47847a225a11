namespace CycleLock.Cli;

/// <summary>The CLI could not connect to any gateway.</summary>
internal sealed class ClusterUnreachableException(string message, Exception inner) : Exception(message, inner);
