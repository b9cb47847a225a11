using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.DataProtection;

namespace CycleLock.Silo;

/// <summary>
/// Anti-forgery for every state-changing request the web host takes (any method but GET, HEAD, OPTIONS and TRACE):
/// it must carry, in the <see cref="HeaderName"/> header, the token of a page this silo served, next to that page's
/// cookie (SameSite=Strict, HttpOnly). A page elsewhere that makes an operator's browser post here — which basic
/// authentication alone would let through, the browser adds the credentials — has neither and is refused with 400
/// before anything runs. Tokens are signed with keys kept in memory: a silo restart invalidates them (a page reload
/// gets a fresh one) and nothing is written to disk.
/// </summary>
internal static class AntiforgeryProtection
{
    /// <summary>The request header the token travels in.</summary>
    public const string HeaderName = "X-CycleLock-Token";

    /// <summary>The cookie the token is checked against.</summary>
    public const string CookieName = "cyclelock-antiforgery";

    public static IServiceCollection AddCycleLockAntiforgery(this IServiceCollection services)
    {
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        return services.AddAntiforgery(o =>
        {
            o.HeaderName = HeaderName;
            o.Cookie.Name = CookieName;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.HttpOnly = true;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;

            // The security headers already forbid framing (DENY); the antiforgery default would weaken it to SAMEORIGIN.
            o.SuppressXFrameOptionsHeader = true;
        });
    }

    /// <summary>A token for the page being served (and its cookie on the response).</summary>
    public static string Token(HttpContext context) =>
        context.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(context).RequestToken!;

    public static IApplicationBuilder UseCycleLockAntiforgery(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var method = context.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method) && !HttpMethods.IsOptions(method) && !HttpMethods.IsTrace(method))
        {
            try
            {
                await context.RequestServices.GetRequiredService<IAntiforgery>().ValidateRequestAsync(context);
            }
            catch (AntiforgeryValidationException)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync($"{method} {context.Request.Path} refused: the anti-forgery token is missing or invalid (rule: a state-changing request carries the {HeaderName} header of a page this silo served, with its cookie)");
                return;
            }
        }

        await next(context);
    });
}
