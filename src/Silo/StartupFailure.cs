namespace CycleLock.Silo;

/// <summary>Finds the cause of a failed start inside the wrappers Orleans' lifecycle and the host add.</summary>
internal static class StartupFailure
{
    public static T? Find<T>(Exception? e)
        where T : Exception
    {
        for (var depth = 0; e is not null && depth < 16; depth++)
        {
            switch (e)
            {
                case T found:
                    return found;
                case AggregateException { InnerExceptions.Count: > 0 } all:
                    foreach (var inner in all.InnerExceptions)
                    {
                        if (Find<T>(inner) is { } nested)
                        {
                            return nested;
                        }
                    }

                    return null;
                default:
                    e = e.InnerException;
                    break;
            }
        }

        return null;
    }
}
