using System.IO.Compression;
using System.Text.RegularExpressions;

namespace CycleLock.Silo;

/// <summary>
/// A link from the Orleans Dashboard back to the CycleLock console: the dashboard has no setting for one, so its
/// page (<c>/dashboard</c>, <c>/dashboard/index.html</c>) gets a small fixed link inserted after its body tag.
/// Nothing else of the dashboard is touched; its page is answered uncompressed, anything else passes through as it is.
/// </summary>
internal static partial class DashboardLink
{
    private const string Link = "<a id=\"cyclelock-console-link\" href=\"/leases\" target=\"_top\" rel=\"external\" style=\"position:fixed;right:12px;bottom:10px;z-index:9999;padding:4px 10px;background:#fff;border:1px solid #ccc;border-radius:6px;font:13px system-ui,sans-serif;color:#05a\">CycleLock console</a>";

    public static WebApplication UseCycleLockDashboardLink(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path.Value;
            if (!HttpMethods.IsGet(context.Request.Method) || path is not ("/dashboard" or "/dashboard/" or "/dashboard/index.html"))
            {
                await next();
                return;
            }

            var original = context.Response.Body;
            await using var buffer = new MemoryStream();
            context.Response.Body = buffer;
            try
            {
                await next();
            }
            finally
            {
                context.Response.Body = original;
            }

            buffer.Position = 0;
            var encoding = context.Response.Headers.ContentEncoding.ToString();
            var html = context.Response.StatusCode == StatusCodes.Status200OK
                && context.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true
                && encoding is "" or "gzip";
            if (!html)
            {
                await buffer.CopyToAsync(original, context.RequestAborted);
                return;
            }

            // The dashboard serves its page gzip-compressed: read it as text, answer it uncompressed with the link.
            Stream source = encoding == "gzip" ? new GZipStream(buffer, CompressionMode.Decompress) : buffer;
            string page;
            using (var reader = new StreamReader(source))
            {
                page = Body().Replace(await reader.ReadToEndAsync(context.RequestAborted), match => match.Value + Link, 1);
            }

            context.Response.Headers.ContentEncoding = default;
            context.Response.Headers.ETag = default;
            context.Response.ContentLength = null;
            await context.Response.WriteAsync(page, context.RequestAborted);
        });
        return app;
    }

    [GeneratedRegex("<body[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex Body();
}
