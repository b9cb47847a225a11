using System.Security.Cryptography;
using System.Text;

namespace CycleLock.Silo;

/// <summary>HTTP basic authentication for the dashboard and the lease view (every path but the probes), when a
/// password is configured (<see cref="WebOptions.Password"/>). <c>/health</c> and <c>/metrics</c> stay open
/// for probes and scrapers.</summary>
internal static class BasicAuthentication
{
    /// <summary>How long a request with wrong credentials waits for its 401.</summary>
    public static readonly TimeSpan FailedLoginDelay = TimeSpan.FromSeconds(1);

    public static IApplicationBuilder UseCycleLockAuthentication(this IApplicationBuilder app, WebOptions web)
    {
        if (string.IsNullOrEmpty(web.Password))
        {
            return app;
        }

        var expected = SHA256.HashData(Encoding.UTF8.GetBytes($"{web.User}:{web.Password}"));
        return app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics") || Authorized(context.Request.Headers.Authorization.ToString(), expected))
            {
                await next(context);
                return;
            }

            if (context.Request.Headers.Authorization.Count > 0)
            {
                // A wrong user or password (not the browser's first, bare request) waits before its answer: guessing
                // costs a second per try on each connection.
                await Task.Delay(FailedLoginDelay, context.RequestAborted);
            }

            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"CycleLock\", charset=\"UTF-8\"";
        });
    }

    private static bool Authorized(string header, byte[] expected)
    {
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        try
        {
            // Hashes of equal length: the comparison reveals neither the password nor its length.
            var given = SHA256.HashData(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            return CryptographicOperations.FixedTimeEquals(given, expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
