using System.Globalization;
using System.Text;
using System.Xml;

namespace CycleLock.Silo;

/// <summary>
/// The console's ownership timeline, rendered on the server as SVG: one lane per lock, a bar per epoch coloured by
/// holder, markers for release, loss, expiry, force-release and reset, gaps where nobody held the lock. Every name
/// and label is written through <see cref="XmlWriter"/>, so markup in them stays text.
/// </summary>
internal static class OwnershipTimeline
{
    private const int LabelWidth = 230;
    private const int PlotWidth = 760;
    private const int LaneHeight = 22;
    private const int AxisHeight = 24;

    /// <summary>One bar: who held which epoch from when to when (null: still held), within the window.</summary>
    internal sealed record Bar(string Name, long Epoch, string? Holder, DateTimeOffset From, DateTimeOffset? To);

    /// <summary>One end or reset event.</summary>
    internal sealed record Marker(string Name, long Epoch, string Event, string? Reason, DateTimeOffset At);

    /// <summary>Bars and markers from the locks' history (oldest first; for each lock the last
    /// event before the window may come first, and an open grant there starts a bar at the window's start).</summary>
    public static (List<Bar> Bars, List<Marker> Markers) Build(IEnumerable<LockHistoryEntry> history, DateTimeOffset from)
    {
        var bars = new List<Bar>();
        var markers = new List<Marker>();
        foreach (var lane in history.GroupBy(e => e.Name, StringComparer.Ordinal))
        {
            Bar? open = null;
            foreach (var e in lane.OrderBy(e => e.Id))
            {
                var at = e.At < from ? from : e.At;
                switch (e.Event)
                {
                    case "granted" or "adopted":
                        if (open is { } current && current.Epoch == e.Epoch)
                        {
                            break; // an adoption of the lease already drawn
                        }

                        if (open is not null)
                        {
                            bars.Add(open with { To = at });
                        }

                        open = new Bar(e.Name, e.Epoch, e.HolderLabel, at, null);
                        break;
                    case "released" or "lost" or "expired" or "force-released":
                        if (e.At < from)
                        {
                            open = null; // ended before the window
                            break;
                        }

                        bars.Add(open is { } held && held.Epoch == e.Epoch ? held with { To = at } : new Bar(e.Name, e.Epoch, e.HolderLabel, from, at));
                        open = null;
                        markers.Add(new Marker(e.Name, e.Epoch, e.Event, e.Reason, at));
                        break;
                    default:
                        if (e.At >= from)
                        {
                            markers.Add(new Marker(e.Name, e.Epoch, e.Event, e.Reason, at));
                        }

                        break;
                }
            }

            if (open is not null)
            {
                bars.Add(open);
            }
        }

        return (bars, markers);
    }

    /// <summary>The SVG document for <paramref name="names"/> (lanes in that order) over [<paramref name="from"/>, <paramref name="now"/>].</summary>
    public static string Render(IReadOnlyList<string> names, IEnumerable<LockHistoryEntry> history, DateTimeOffset from, DateTimeOffset now)
    {
        var (bars, markers) = Build(history, from);
        var span = (now - from).TotalSeconds;
        double X(DateTimeOffset t) => LabelWidth + (Math.Clamp((t - from).TotalSeconds, 0, span) / span * PlotWidth);
        var lanes = names.Select((name, i) => (name, i)).ToDictionary(l => l.name, l => l.i, StringComparer.Ordinal);
        var height = AxisHeight + (names.Count * LaneHeight) + 4;
        var text = new StringBuilder();
        using (var xml = XmlWriter.Create(text, new XmlWriterSettings { OmitXmlDeclaration = true }))
        {
            xml.WriteStartElement("svg", "http://www.w3.org/2000/svg");
            xml.WriteAttributeString("id", "timeline-svg");
            xml.WriteAttributeString("width", Num(LabelWidth + PlotWidth + 10));
            xml.WriteAttributeString("height", Num(height));
            xml.WriteAttributeString("font-family", "system-ui, sans-serif");
            xml.WriteAttributeString("font-size", "11");

            // The time axis: a tick a minute, a label every five, "now" at the right.
            for (var minute = 0; minute <= span / 60; minute++)
            {
                var t = now - TimeSpan.FromMinutes(minute);
                var x = X(t);
                Line(xml, x, AxisHeight - 4, x, height, minute % 5 == 0 ? "#ccc" : "#eee");
                if (minute % 5 == 0)
                {
                    Text(xml, x - 12, 12, minute == 0 ? "now" : $"-{minute}m", "#666");
                }
            }

            foreach (var (name, i) in lanes)
            {
                var y = AxisHeight + (i * LaneHeight);
                Text(xml, 4, y + 15, name.Length > 34 ? name[..33] + "…" : name, "#222", name);
                Line(xml, LabelWidth, y + LaneHeight, LabelWidth + PlotWidth, y + LaneHeight, "#f0f0f0");
            }

            foreach (var bar in bars.Where(b => lanes.ContainsKey(b.Name)))
            {
                var y = AxisHeight + (lanes[bar.Name] * LaneHeight) + 4;
                var x1 = X(bar.From);
                var x2 = X(bar.To ?? now);
                xml.WriteStartElement("rect");
                xml.WriteAttributeString("class", "epoch");
                xml.WriteAttributeString("data-lock", bar.Name);
                xml.WriteAttributeString("data-epoch", bar.Epoch.ToString(CultureInfo.InvariantCulture));
                xml.WriteAttributeString("x", Num(x1));
                xml.WriteAttributeString("y", Num(y));
                xml.WriteAttributeString("width", Num(Math.Max(2, x2 - x1)));
                xml.WriteAttributeString("height", Num(LaneHeight - 8));
                xml.WriteAttributeString("rx", "3");
                xml.WriteAttributeString("fill", Colour(bar.Holder));
                xml.WriteElementString("title", $"{bar.Name}: epoch {bar.Epoch}, {LockName.Printable(bar.Holder) ?? "?"}, {bar.From:HH:mm:ss}–{(bar.To is { } to ? to.ToString("HH:mm:ss", CultureInfo.InvariantCulture) : "now")}");
                xml.WriteEndElement();
            }

            foreach (var marker in markers.Where(m => lanes.ContainsKey(m.Name)))
            {
                var y = AxisHeight + (lanes[marker.Name] * LaneHeight);
                var x = X(marker.At);
                xml.WriteStartElement("path");
                xml.WriteAttributeString("class", "marker " + marker.Event);
                xml.WriteAttributeString("data-lock", marker.Name);
                xml.WriteAttributeString("data-epoch", marker.Epoch.ToString(CultureInfo.InvariantCulture));
                xml.WriteAttributeString("d", string.Create(CultureInfo.InvariantCulture, $"M{x:0.#},{y + 2} l4,5 l-4,5 l-4,-5 z M{x:0.#},{y + 12} v{LaneHeight - 12}"));
                xml.WriteAttributeString("fill", MarkerColour(marker.Event));
                xml.WriteAttributeString("stroke", MarkerColour(marker.Event));
                xml.WriteElementString("title", $"{marker.Name}: {marker.Event} epoch {marker.Epoch}{(marker.Reason is { } r ? " (" + LockName.Printable(r) + ")" : "")} at {marker.At:HH:mm:ss}");
                xml.WriteEndElement();
            }

            xml.WriteEndElement();
        }

        return text.ToString();
    }

    /// <summary>A stable colour per holder label.</summary>
    internal static string Colour(string? holder)
    {
        if (holder is null)
        {
            return "hsl(0,0%,70%)";
        }

        var hash = 17u;
        foreach (var c in holder)
        {
            hash = unchecked((hash * 31) + c);
        }

        return string.Create(CultureInfo.InvariantCulture, $"hsl({hash % 360},55%,55%)");
    }

    private static string MarkerColour(string kind) => kind switch
    {
        "released" => "#555",
        "lost" => "#d00",
        "expired" => "#e80",
        "force-released" => "#80c",
        _ => "#06c",
    };

    private static void Line(XmlWriter xml, double x1, double y1, double x2, double y2, string colour)
    {
        xml.WriteStartElement("line");
        xml.WriteAttributeString("x1", Num(x1));
        xml.WriteAttributeString("y1", Num(y1));
        xml.WriteAttributeString("x2", Num(x2));
        xml.WriteAttributeString("y2", Num(y2));
        xml.WriteAttributeString("stroke", colour);
        xml.WriteEndElement();
    }

    private static void Text(XmlWriter xml, double x, double y, string value, string colour, string? title = null)
    {
        xml.WriteStartElement("text");
        xml.WriteAttributeString("x", Num(x));
        xml.WriteAttributeString("y", Num(y));
        xml.WriteAttributeString("fill", colour);
        if (title is not null)
        {
            xml.WriteElementString("title", title);
        }

        xml.WriteString(value);
        xml.WriteEndElement();
    }

    private static string Num(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);
}
