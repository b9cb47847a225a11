namespace CycleLock.Silo;

/// <summary>The lease view: every lock (holder label, epoch, acquired, renewed, expires, time left, held
/// for, attempts, stalls, state) and a lock's recent history, refreshing itself every second. Served next
/// to the Orleans Dashboard on the silo's web host; the data comes from <see cref="ILockAdminGrain"/>.</summary>
internal static class LeaseView
{
    public static WebApplication MapLeaseView(this WebApplication app)
    {
        app.MapGet("/leases", (HttpContext context) => Results.Content(
            Page.Replace("__NONCE__", SecurityHeaders.Nonce(context), StringComparison.Ordinal).Replace("__TOKEN__", AntiforgeryProtection.Token(context), StringComparison.Ordinal),
            "text/html; charset=utf-8"));
        app.MapGet("/leases/data", async (IClusterClient client, TimeProvider time, string? after, int? limit) =>
        {
            var take = limit ?? 1000;
            if (take is < 1 or > 1000)
            {
                return Results.BadRequest($"limit {take} is out of range (rule: 1 to 1000)");
            }

            var locks = await client.GetGrain<ILockAdminGrain>(0).ListAsync(after, take);
            var now = time.GetUtcNow();
            return Results.Json(locks.Select(l => new
            {
                name = l.Name,
                state = l.State == LockState.Held && l.TimeLeft <= TimeSpan.Zero ? "expired" : l.State.ToString().ToLowerInvariant(),
                holder = l.State == LockState.Held ? LockName.Printable(l.HolderLabel) : null,
                epoch = l.Epoch,
                acquired = l.AcquiredAt,
                renewed = l.RenewedAt,
                expires = l.ExpiresAt,
                timeLeftSeconds = l.State == LockState.Held ? Math.Round(l.TimeLeft.TotalSeconds, 1) : (double?)null,
                heldForSeconds = l.State == LockState.Held && l.AcquiredAt is { } at ? Math.Round((now - at).TotalSeconds, 1) : (double?)null,
                attempts = l.Attempts,
                stalls = l.Stalls,
                lastReason = LockName.Printable(l.LastReleaseReason),
            }));
        });
        app.MapGet("/leases/history", async (IClusterClient client, string name, int? limit) =>
        {
            string normalized;
            try
            {
                normalized = LockName.Normalize(name);
            }
            catch (ArgumentException e)
            {
                return Results.BadRequest(e.Message);
            }

            var entries = await client.GetGrain<ICycleLockGrain>(normalized).GetHistoryAsync(Math.Clamp(limit ?? 20, 1, 1000), null);
            return Results.Json(entries.Select(e => new { e.Id, e.At, e.Epoch, e.Event, holder = LockName.Printable(e.HolderLabel), reason = LockName.Printable(e.Reason), by = LockName.Printable(e.By), e.Operator }));
        });
        app.MapPost("/leases/force-release", ForceReleaseAsync);
        return app;
    }

    /// <summary>The body of a force-release from the lease view.</summary>
    /// <param name="Name">The lock.</param>
    /// <param name="Epoch">The epoch the operator saw; nothing changes when it is not current.</param>
    /// <param name="Reason">Free text for history.</param>
    /// <param name="SkipDelay">Grant again at once (only where the silo allows it).</param>
    internal sealed record ForceReleaseForm(string? Name, long Epoch, string? Reason, bool SkipDelay);

    // Anti-forgery is checked before this runs (AntiforgeryProtection); the operator recorded in history is the web
    // host's authenticated user, not something the request body says.
    private static async Task<IResult> ForceReleaseAsync(HttpContext context, IClusterClient client, WebOptions web, ForceReleaseForm form)
    {
        string name;
        ForceReleaseRequest request;
        var operatorName = string.IsNullOrEmpty(web.Password) ? "web" : "web:" + web.User;
        try
        {
            name = LockName.Normalize(form.Name ?? throw new ArgumentException("The lock name is missing (rule: name is required).", nameof(form)));
            request = new ForceReleaseRequest(form.Epoch, form.Reason ?? "", operatorName, form.SkipDelay);
            RequestRules.ForceRelease(request);
        }
        catch (ArgumentException e)
        {
            return Results.BadRequest(e.Message);
        }

        RequestContext.Set(AccessContext.OperatorKey, operatorName);
        try
        {
            var reply = await client.GetGrain<ILockOperatorGrain>(name).ForceReleaseAsync(request, context.RequestAborted);
            return Results.Json(new { status = reply.Status.ToString(), currentEpoch = reply.CurrentEpoch, fenceUntil = reply.FenceUntil });
        }
        catch (ArgumentException e)
        {
            // The grain's own rules (SkipDelay where the silo does not allow it).
            return Results.BadRequest(e.Message);
        }
        finally
        {
            RequestContext.Remove(AccessContext.OperatorKey);
        }
    }

    private const string Page = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="cyclelock-token" content="__TOKEN__">
        <title>CycleLock leases</title>
        <style nonce="__NONCE__">
          body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
          table { border-collapse: collapse; width: 100%; }
          th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #ddd; white-space: nowrap; }
          tr.lock { cursor: pointer; }
          .held { color: #080; } .expired { color: #b60; } .dead { color: #c00; font-weight: bold; } .free { color: #777; }
          #status { color: #777; margin: .5em 0; }
        </style>
        </head>
        <body>
        <h1>CycleLock leases</h1>
        <p><a href="/dashboard">Orleans Dashboard</a> · click a lock for its history</p>
        <div id="status">loading…</div>
        <table>
          <thead><tr><th>lock</th><th>state</th><th>holder</th><th>epoch</th><th>acquired</th><th>renewed</th><th>expires</th><th>time left</th><th>held for</th><th>attempts</th><th>stalls</th></tr></thead>
          <tbody id="locks"></tbody>
        </table>
        <h2 id="history-title"></h2>
        <p id="actions" hidden><button id="force-release" type="button">force release</button> <span id="action-result"></span></p>
        <table><tbody id="history"></tbody></table>
        <script nonce="__NONCE__">
          let selected = null;
          const text = v => v === null || v === undefined ? '-' : String(v);
          const time = v => v ? new Date(v).toISOString().substring(11, 23) : '-';
          function cell(row, value, cls) { const td = row.insertCell(); td.textContent = value; if (cls) td.className = cls; return td; }
          async function refresh() {
            try {
              const locks = [];
              for (let after = null; ;) {
                const response = await fetch('/leases/data' + (after === null ? '' : '?after=' + encodeURIComponent(after)));
                if (!response.ok) throw new Error(response.status + ' ' + response.statusText);
                const page = await response.json();
                locks.push(...page);
                if (page.length < 1000) break;
                after = page[page.length - 1].name;
              }
              const body = document.getElementById('locks');
              body.replaceChildren();
              for (const l of locks) {
                const row = body.insertRow();
                row.className = 'lock';
                row.dataset.lock = l.name;
                row.dataset.state = l.state;
                row.dataset.epoch = l.epoch;
                row.onclick = () => { selected = l.name; history(); };
                cell(row, l.name); cell(row, l.state, l.state); cell(row, text(l.holder)); cell(row, l.epoch);
                cell(row, time(l.acquired)); cell(row, time(l.renewed)); cell(row, time(l.expires));
                cell(row, l.timeLeftSeconds === null ? '-' : l.timeLeftSeconds.toFixed(1) + 's');
                cell(row, l.heldForSeconds === null ? '-' : l.heldForSeconds.toFixed(1) + 's');
                cell(row, l.attempts); cell(row, l.stalls);
              }
              document.getElementById('status').textContent = locks.length + ' lock(s), refreshed ' + new Date().toISOString().substring(11, 19);
              if (selected) await history();
            } catch (e) {
              document.getElementById('status').textContent = 'refresh failed: ' + e.message;
            }
          }
          async function history() {
            const response = await fetch('/leases/history?name=' + encodeURIComponent(selected));
            const entries = await response.json();
            document.getElementById('history-title').textContent = 'history of ' + selected;
            document.getElementById('actions').hidden = false;
            const body = document.getElementById('history');
            body.replaceChildren();
            for (const e of entries) {
              const row = body.insertRow();
              cell(row, e.id); cell(row, time(e.at)); cell(row, 'epoch ' + e.epoch); cell(row, e.event); cell(row, text(e.holder)); cell(row, text(e.reason)); cell(row, text(e.by)); cell(row, text(e.operator));
            }
          }
          async function forceRelease() {
            const row = document.querySelector('tr[data-lock="' + CSS.escape(selected) + '"]');
            if (!row || row.dataset.state === 'free') return;
            const reason = prompt('Force-release ' + selected + ' (epoch ' + row.dataset.epoch + '): reason for history', 'operator: force release');
            if (reason === null) return;
            const response = await fetch('/leases/force-release', {
              method: 'POST',
              headers: { 'Content-Type': 'application/json', 'X-CycleLock-Token': document.querySelector('meta[name="cyclelock-token"]').content },
              body: JSON.stringify({ name: selected, epoch: Number(row.dataset.epoch), reason: reason, skipDelay: false }),
            });
            const answer = await response.text();
            document.getElementById('action-result').textContent = response.ok ? JSON.parse(answer).status : 'refused: ' + answer;
            await refresh();
          }
          document.getElementById('force-release').onclick = forceRelease;
          refresh();
          setInterval(refresh, 1000);
        </script>
        </body>
        </html>
        """;
}
