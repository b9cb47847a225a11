using System.Security.Cryptography;

namespace CycleLock.Silo;

/// <summary>
/// Standard security headers on every response of the web host: a Content-Security-Policy (CycleLock's own pages
/// run only the script and style carrying this response's nonce; the Orleans Dashboard only its own files), no
/// framing, no MIME sniffing, no referrer, and no caching of pages that show lock state.
/// </summary>
internal static class SecurityHeaders
{
    private const string NonceKey = "cyclelock-csp-nonce";

    /// <summary>The nonce of this response's inline script and style (<c>nonce="…"</c>).</summary>
    public static string Nonce(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return (string)context.Items[NonceKey]!;
    }

    public static IApplicationBuilder UseCycleLockSecurityHeaders(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        context.Items[NonceKey] = nonce;
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments("/dashboard")
            // The dashboard's bundle sets style attributes and uses inline fonts and images; it runs no inline script.
            ? "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
            : $"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
        headers.CacheControl = "no-store";
        if (context.Request.IsHttps)
        {
            headers.StrictTransportSecurity = "max-age=31536000";
        }

        await next(context);
    });
}
