using Orleans.Serialization.Invocation;

namespace CycleLock.Security;

/// <summary>
/// What a client sees of an exception: the same type and message, never the silo's stack trace (frames with
/// the build's source paths) nor inner exceptions. Orleans sends an exception's stack trace with it and has no
/// setting against that; a copy that was never thrown has none. The silo still logs the original at Debug.
/// </summary>
internal static class ClientErrors
{
    /// <summary>Sets <paramref name="context"/>'s response to a stack-free copy of <paramref name="error"/>.</summary>
    public static void Answer(IIncomingGrainCallContext context, Exception error) => context.Response = Response.FromException(Copy(error));

    /// <summary>A never-thrown copy of <paramref name="error"/>: same type and message where the type allows it.</summary>
    public static Exception Copy(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error switch
        {
            CycleLockAccessDeniedException d => new CycleLockAccessDeniedException(d.Message, d.Credential, d.Call, d.Rule),
            ArgumentOutOfRangeException a => new ArgumentOutOfRangeException(a.ParamName, a.ActualValue, RawMessage(a)),
            ArgumentNullException a => new ArgumentNullException(a.ParamName, RawMessage(a)),
            ArgumentException a => new ArgumentException(RawMessage(a), a.ParamName),
            OperationCanceledException => new OperationCanceledException(error.Message),
            TimeoutException => new TimeoutException(error.Message),
            NotSupportedException => new NotSupportedException(error.Message),
            InvalidOperationException => new InvalidOperationException(error.Message),
            _ => SameType(error) ?? new InvalidOperationException($"{error.GetType().Name}: {error.Message}"),
        };
    }

    // ArgumentException.Message appends " (Parameter 'name')" (and the actual value); the constructors add them again.
    private static string RawMessage(ArgumentException error)
    {
        var message = error.Message;
        if (error is ArgumentOutOfRangeException { ActualValue: not null } range)
        {
            var actual = Environment.NewLine + $"Actual value was {range.ActualValue}.";
            if (message.EndsWith(actual, StringComparison.Ordinal))
            {
                message = message[..^actual.Length];
            }
        }

        var parameter = error.ParamName is { } name ? $" (Parameter '{name}')" : null;
        return parameter is not null && message.EndsWith(parameter, StringComparison.Ordinal) ? message[..^parameter.Length] : message;
    }

    private static Exception? SameType(Exception error)
    {
        try
        {
            return error.GetType().GetConstructor([typeof(string)]) is { } constructor ? (Exception)constructor.Invoke([error.Message]) : null;
        }
        catch (System.Reflection.TargetInvocationException)
        {
            return null;
        }
    }
}
