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
            return Results.Json(locks.Select(l => Row(l, now)));
        });

        // The console: one page of locks, filtered, sorted and counted in the database.
        app.MapGet("/leases/page", async (IClusterClient client, TimeProvider time, string? prefix, string? state, string? holder, string? sort, int? page, int? size) =>
        {
            LockSort order;
            LockQuery query;
            try
            {
                order = sort switch
                {
                    null or "" or "name" => LockSort.Name,
                    "time-left" => LockSort.TimeLeft,
                    "epoch" => LockSort.EpochDescending,
                    "acquired" => LockSort.AcquiredDescending,
                    "holder" => LockSort.Holder,
                    _ => throw new ArgumentException($"sort {LockName.Quote(sort)} is not known (rule: name, time-left, epoch, acquired or holder)."),
                };
                var take = size ?? 50;
                var number = page ?? 0;
                if (number is < 0 or > 100_000)
                {
                    throw new ArgumentException($"page {number} is out of range (rule: 0 to 100000).");
                }

                query = new LockQuery(string.IsNullOrEmpty(prefix) ? null : prefix, string.IsNullOrEmpty(state) ? null : state, string.IsNullOrEmpty(holder) ? null : holder, order, number * take, take);
                RequestRules.Query(query);
            }
            catch (ArgumentException e)
            {
                return Results.BadRequest(e.Message);
            }

            var result = await client.GetGrain<ILockAdminGrain>(0).QueryAsync(query);
            var now = time.GetUtcNow();
            return Results.Json(new { total = result.Total, page = query.Offset / query.Limit, size = query.Limit, locks = result.Locks.Select(l => Row(l, now)) });
        });
        app.MapGet("/leases/summary", async (IClusterClient client) => Results.Json(await client.GetGrain<ILockAdminGrain>(0).SummaryAsync()));
        app.MapGet("/leases/timeline", async (HttpContext context, IClusterClient client, TimeProvider time, int? minutes) =>
        {
            var names = context.Request.Query["name"].Where(n => !string.IsNullOrEmpty(n)).Select(n => n!).ToArray();
            var window = TimeSpan.FromMinutes(minutes ?? 15);
            var now = time.GetUtcNow();
            LockHistoryEntry[] history;
            try
            {
                if (window < TimeSpan.FromMinutes(1) || window > TimeSpan.FromMinutes(60))
                {
                    throw new ArgumentException($"minutes {minutes} is out of range (rule: 1 to 60).");
                }

                names = RequestRules.RecentHistory(names, now - window, now);
                history = await client.GetGrain<ILockAdminGrain>(0).RecentHistoryAsync(names, now - window);
            }
            catch (ArgumentException e)
            {
                return Results.BadRequest(e.Message);
            }

            return Results.Content(OwnershipTimeline.Render(names, history, now - window, now), "image/svg+xml; charset=utf-8");
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
        app.MapPost("/leases/reset", ResetAsync);
        return app;
    }

    /// <summary>A lock as the console shows it: labels and reasons with non-printing characters escaped.</summary>
    private static object Row(LockInfo l, DateTimeOffset now)
    {
        var held = l.State == LockState.Held && l.TimeLeft > TimeSpan.Zero;
        return new
        {
            name = l.Name,
            state = l.State == LockState.Held && l.TimeLeft <= TimeSpan.Zero ? "expired" : l.State.ToString().ToLowerInvariant(),
            holder = l.State == LockState.Held ? LockName.Printable(l.HolderLabel) : null,
            epoch = l.Epoch,
            acquired = l.AcquiredAt,
            renewed = l.RenewedAt,
            expires = l.ExpiresAt,
            timeLeftSeconds = l.State == LockState.Held ? Math.Round(l.TimeLeft.TotalSeconds, 1) : (double?)null,
            ttlSeconds = held && l.Ttl is { } ttl ? Math.Round(ttl.TotalSeconds, 1) : (double?)null,
            jeopardy = held && l.Ttl is { } t && l.TimeLeft < t / 6,
            heldForSeconds = l.State == LockState.Held && l.AcquiredAt is { } at ? Math.Round((now - at).TotalSeconds, 1) : (double?)null,
            attempts = l.Attempts,
            stalls = l.Stalls,
            lastReason = LockName.Printable(l.LastReleaseReason),
        };
    }

    /// <summary>The body of a reset from the console.</summary>
    /// <param name="Name">The dead lock to return to service.</param>
    internal sealed record ResetForm(string? Name);

    // Anti-forgery is checked before this runs, as for force-release; history records the web host's user.
    private static async Task<IResult> ResetAsync(HttpContext context, IClusterClient client, WebOptions web, ResetForm form)
    {
        string name;
        var operatorName = string.IsNullOrEmpty(web.Password) ? "web" : "web:" + web.User;
        try
        {
            name = LockName.Normalize(form.Name ?? throw new ArgumentException("The lock name is missing (rule: name is required).", nameof(form)));
        }
        catch (ArgumentException e)
        {
            return Results.BadRequest(e.Message);
        }

        RequestContext.Set(AccessContext.OperatorKey, operatorName);
        try
        {
            var reply = await client.GetGrain<ILockOperatorGrain>(name).ResetAsync(operatorName, context.RequestAborted);
            return Results.Json(reply);
        }
        catch (ArgumentException e)
        {
            return Results.BadRequest(e.Message);
        }
        finally
        {
            RequestContext.Remove(AccessContext.OperatorKey);
        }
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
        <title>CycleLock console</title>
        <style nonce="__NONCE__">
          body { font: 14px system-ui, sans-serif; margin: 1.2em 1.5em; color: #222; }
          h1 { font-size: 1.4em; margin: 0 0 .3em; }
          a { color: #05a; }
          #tiles { display: flex; gap: .8em; margin: .8em 0; flex-wrap: wrap; }
          .tile { border: 1px solid #ddd; border-radius: 8px; padding: .5em .9em; min-width: 7.5em; background: #fafafa; }
          .tile b { display: block; font-size: 1.6em; }
          .tile span { color: #666; font-size: .85em; }
          #filters { display: flex; gap: .5em; align-items: center; flex-wrap: wrap; margin: .5em 0; }
          input, select, button { font: inherit; padding: 2px 6px; }
          table { border-collapse: collapse; width: 100%; }
          th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
          tr.lock { cursor: pointer; } tr.lock:hover, tr.selected { background: #f3f7ff; }
          .held { color: #080; } .expired { color: #b60; } .dead { color: #c00; font-weight: bold; } .free { color: #777; }
          .bar { display: inline-block; width: 90px; height: 8px; background: #eee; border-radius: 4px; vertical-align: middle; margin-right: 6px; overflow: hidden; }
          .bar i { display: block; height: 100%; background: #4a4; }
          .bar.jeopardy i { background: #d33; }
          #status, #pager { color: #666; margin: .4em 0; }
          #timeline { overflow-x: auto; border: 1px solid #eee; margin: .6em 0; }
          #actions button { margin-right: .4em; }
        </style>
        </head>
        <body>
        <h1>CycleLock console</h1>
        <p><a href="/dashboard">Orleans Dashboard</a> · click a lock for its history and actions</p>
        <div id="tiles">
          <div class="tile"><b id="tile-held">–</b><span>held</span></div>
          <div class="tile"><b id="tile-free">–</b><span>free</span></div>
          <div class="tile"><b id="tile-dead">–</b><span>dead</span></div>
          <div class="tile"><b id="tile-jeopardy">–</b><span>in jeopardy</span></div>
          <div class="tile"><b id="tile-grants">–</b><span>grants / min</span></div>
          <div class="tile"><b id="tile-losses">–</b><span>losses / min</span></div>
        </div>
        <form id="filters">
          <input id="prefix" placeholder="name prefix" size="24">
          <select id="state"><option value="">any state</option><option>held</option><option>free</option><option>dead</option><option>expired</option><option value="jeopardy">in jeopardy</option></select>
          <input id="holder" placeholder="holder contains" size="18">
          <select id="sort"><option value="name">by name</option><option value="time-left">by time left</option><option value="epoch">by epoch</option><option value="acquired">by acquired</option><option value="holder">by holder</option></select>
          <button id="apply" type="submit">filter</button>
        </form>
        <div id="status">loading…</div>
        <table>
          <thead><tr><th>lock</th><th>state</th><th>holder</th><th>epoch</th><th>time left</th><th>acquired</th><th>renewed</th><th>held for</th><th>attempts</th><th>stalls</th></tr></thead>
          <tbody id="locks"></tbody>
        </table>
        <div id="pager"><button id="prev" type="button">‹ prev</button> <span id="page-info"></span> <button id="next" type="button">next ›</button></div>
        <h2>Ownership, last 15 minutes</h2>
        <div id="timeline"></div>
        <h2 id="history-title"></h2>
        <p id="actions" hidden><button id="force-release" type="button">force release</button><button id="reset" type="button">reset</button> <span id="action-result"></span></p>
        <table><tbody id="history"></tbody></table>
        <script nonce="__NONCE__">
          const size = 50;
          const params = new URLSearchParams(location.search);
          let page = Number(params.get('page') || 0), selected = null, rows = [], total = 0;
          for (const id of ['prefix', 'state', 'holder', 'sort']) if (params.get(id)) document.getElementById(id).value = params.get(id);
          const text = v => v === null || v === undefined ? '-' : String(v);
          const time = v => v ? new Date(v).toISOString().substring(11, 19) : '-';
          const token = () => document.querySelector('meta[name="cyclelock-token"]').content;
          function cell(row, value, cls) { const td = row.insertCell(); td.textContent = value; if (cls) td.className = cls; return td; }
          function query() {
            const q = new URLSearchParams();
            for (const id of ['prefix', 'state', 'holder', 'sort']) { const v = document.getElementById(id).value; if (v) q.set(id, v); }
            q.set('page', page); q.set('size', size);
            return q;
          }
          async function json(url) {
            const response = await fetch(url);
            if (!response.ok) throw new Error(response.status + ' ' + (await response.text()));
            return response.json();
          }
          async function refresh() {
            try {
              const [data, summary] = await Promise.all([json('/leases/page?' + query()), json('/leases/summary')]);
              rows = data.locks; total = data.total;
              const tiles = { held: summary.held, free: summary.free, dead: summary.dead, jeopardy: summary.inJeopardy, grants: summary.grantsLastMinute, losses: summary.lossesLastMinute };
              for (const [k, v] of Object.entries(tiles)) document.getElementById('tile-' + k).textContent = v;
              const body = document.getElementById('locks');
              body.replaceChildren();
              for (const l of rows) {
                const row = body.insertRow();
                row.className = 'lock' + (l.name === selected ? ' selected' : '');
                row.dataset.lock = l.name; row.dataset.state = l.state; row.dataset.epoch = l.epoch;
                row.onclick = () => { selected = l.name; history(); };
                cell(row, l.name); cell(row, l.state, l.state); cell(row, text(l.holder)); cell(row, l.epoch);
                const left = cell(row, '');
                if (l.timeLeftSeconds !== null) {
                  const bar = document.createElement('span');
                  bar.className = 'bar' + (l.jeopardy ? ' jeopardy' : '');
                  bar.dataset.jeopardy = l.jeopardy;
                  const fill = document.createElement('i');
                  fill.style.width = Math.max(0, Math.min(100, l.ttlSeconds ? 100 * l.timeLeftSeconds / l.ttlSeconds : 0)) + '%';
                  bar.appendChild(fill); left.appendChild(bar);
                  left.appendChild(document.createTextNode(l.timeLeftSeconds.toFixed(1) + 's'));
                } else left.textContent = '-';
                cell(row, time(l.acquired)); cell(row, time(l.renewed));
                cell(row, l.heldForSeconds === null ? '-' : l.heldForSeconds.toFixed(1) + 's');
                cell(row, l.attempts); cell(row, l.stalls);
              }
              const pages = Math.max(1, Math.ceil(total / size));
              document.getElementById('page-info').textContent = 'page ' + (page + 1) + ' of ' + pages + ' (' + total + ' lock(s))';
              document.getElementById('prev').disabled = page === 0;
              document.getElementById('next').disabled = page + 1 >= pages;
              document.getElementById('status').textContent = total + ' lock(s) match, refreshed ' + new Date().toISOString().substring(11, 19);
              await timeline();
              if (selected) await history();
            } catch (e) {
              document.getElementById('status').textContent = 'refresh failed: ' + e.message;
            }
          }
          async function timeline() {
            const holder = document.getElementById('timeline');
            if (rows.length === 0) { holder.replaceChildren(); return; }
            const q = new URLSearchParams(); for (const l of rows) q.append('name', l.name);
            const response = await fetch('/leases/timeline?' + q);
            if (!response.ok) return;
            const svg = new DOMParser().parseFromString(await response.text(), 'image/svg+xml').documentElement;
            holder.replaceChildren(document.importNode(svg, true));
          }
          async function history() {
            const entries = await json('/leases/history?name=' + encodeURIComponent(selected));
            document.getElementById('history-title').textContent = 'history of ' + selected;
            document.getElementById('actions').hidden = false;
            const body = document.getElementById('history');
            body.replaceChildren();
            for (const e of entries) {
              const row = body.insertRow();
              cell(row, e.id); cell(row, time(e.at)); cell(row, 'epoch ' + e.epoch); cell(row, e.event); cell(row, text(e.holder)); cell(row, text(e.reason)); cell(row, text(e.by)); cell(row, text(e.operator));
            }
          }
          async function post(url, body) {
            const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CycleLock-Token': token() }, body: JSON.stringify(body) });
            const answer = await response.text();
            document.getElementById('action-result').textContent = response.ok ? answer : 'refused: ' + answer;
            await refresh();
          }
          async function forceRelease() {
            const l = rows.find(r => r.name === selected);
            if (!l || l.state === 'free') return;
            const reason = prompt('Force-release ' + selected + ' (epoch ' + l.epoch + ')? Reason for history:', 'operator: force release');
            if (reason === null) return;
            await post('/leases/force-release', { name: selected, epoch: Number(l.epoch), reason: reason, skipDelay: false });
          }
          async function reset() {
            if (!selected || !confirm('Reset ' + selected + ' (return a dead lock to service)?')) return;
            await post('/leases/reset', { name: selected });
          }
          document.getElementById('force-release').onclick = forceRelease;
          document.getElementById('reset').onclick = reset;
          document.getElementById('filters').onsubmit = e => { e.preventDefault(); page = 0; refresh(); };
          document.getElementById('prev').onclick = () => { if (page > 0) { page--; refresh(); } };
          document.getElementById('next').onclick = () => { page++; refresh(); };
          refresh();
          setInterval(refresh, 2000);
        </script>
        </body>
        </html>
        """;
}
