#!/usr/bin/env python3
"""docs/trace-picture.py - draw an RT_TRACE JSON file as an SVG, laid out as Perfetto lays it out.

Usage: python3 docs/trace-picture.py run.json picture.svg [--gap-us 100] [--width 1700] [--title T]

This is what made the pictures in docs/ (trace-timeout.png, trace-shares.png and
trace-ping-pong.png), because the Perfetto UI could not be had on the machine the docs were
written on (no network but package mirrors, and no package ships it).
Open the JSON in https://ui.perfetto.dev to see the same run, interactively.

What is drawn, from the trace's own events and nothing else:
  - a track per executor ("executor 1"): its B/E slices (run, destroy, each completion handled,
    and from phase 3 each time it parked) stacked by depth, and its instants (submit, cancel,
    an orphan freed, a notify) as marks;
  - phase 3: a track per task queue ("queue 1: two"; with several executors, "queue 1: two
    (executor 1)"): a slice per time slice it ran, labelled with how long it ran, in the queue's
    own colour; and a chart of the virtual runtimes of the queues of each executor that has
    several, as the slice ends report them ("virtual runtime");
  - "I/O requests": each request an async slice (b/e, category io) from queued to completed,
    packed in lanes; phase 3's timers in the executor's heap (category timer) likewise, on a
    track of their own ("timers (heap)");
  - a track per task ("task 1"): a slice per poll (X), and its instants (cancelled, freed);
  - an arrow per flow (s/f: a wake or a spawn), from the slice that caused it to the woken
    task's next slice;
  - phase 4: an arrow per channel message (flow category msg, drawn in red), from the slice that
    sent it to the slice that received it ("bp":"e": the slice enclosing the f event), usually
    on another executor's task.
Stretches longer than --gap-us in which nothing happens (a 10 ms timer running out) are cut out
of the time axis and drawn as a hatched band that says how long they were; everything else is
to scale. Python's standard library only.
"""
import html
import json
import sys
import zlib

ROW = 22          # height of one lane
CHART_ROWS = 6    # the virtual-runtime chart's height, in lanes
LABEL_W = 150     # the track names' column
AXIS_H = 46       # the time axis at the top
GAP_W = 70        # the width of a cut-out idle stretch
EXEC = 1000000000   # tids from here: executors (common/trace.c's EXECUTOR_TRACK)
QUEUE = 2000000000  # tids from here: task queues (phase 3, QUEUE_TRACK)
PALETTE = ["#4e79a7", "#59a14f", "#9c755f", "#f28e2b", "#76b7b2", "#b07aa1", "#e15759",
           "#8cd17d", "#499894", "#d4a6c8", "#86bcb6", "#f1ce63"]


def color(name):
    """A stable colour per slice name, as Perfetto gives one per name."""
    return PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


def esc(s):
    return html.escape(str(s), quote=True)


class TimeAxis:
    """Maps trace time (us) to x, cutting out idle stretches longer than `gap` us."""

    def __init__(self, times, gap, width):
        times = sorted(set(times))
        self.segments = []  # [start, end] of each busy stretch
        for t in times:
            if self.segments and t - self.segments[-1][1] <= gap:
                self.segments[-1][1] = t
            else:
                self.segments.append([t, t])
        pad = 4.0  # us of margin on each side of a busy stretch
        for s in self.segments:
            s[0] -= pad
            s[1] += pad
        busy = sum(e - s for s, e in self.segments)
        self.scale = (width - GAP_W * (len(self.segments) - 1)) / busy  # px per us
        self.x0 = LABEL_W
        self.width = width

    def x(self, t):
        x = self.x0
        for i, (s, e) in enumerate(self.segments):
            if t <= e or i == len(self.segments) - 1:
                return x + (max(t, s) - s) * self.scale if t >= s else x
            x += (e - s) * self.scale + GAP_W
        return x

    def gaps(self):
        """(x, width, idle us) of each cut-out stretch."""
        out, x = [], self.x0
        for i, (s, e) in enumerate(self.segments):
            x += (e - s) * self.scale
            if i + 1 < len(self.segments):
                out.append((x, GAP_W, self.segments[i + 1][0] - e))
                x += GAP_W
        return out


def nice_step(us_per_px):
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 2000, 5000):
        if step / us_per_px >= 70:
            return step
    return 10000


def load(path):
    with open(path) as f:
        events = json.load(f)
    names, tracks = {}, {}
    for e in events:
        if e["ph"] == "M" and e["name"] == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        if e["ph"] == "M" and e["name"] == "process_name":
            names["process"] = e["args"]["name"]
    return events, names


def build(events):
    """Slices per track (with depth), instants, requests, timers, flows, and E events' args."""
    slices, instants, flows, ends = {}, {}, {}, {}
    stacks, asyncs, timers, open_async = {}, [], [], {}
    for e in sorted((e for e in events if e["ph"] != "M"), key=lambda e: e["ts"]):
        ph, tid, ts = e["ph"], e["tid"], e["ts"]
        if ph == "X":
            slices.setdefault(tid, []).append((ts, ts + e["dur"], 0, e["name"]))
        elif ph == "B":
            stack = stacks.setdefault(tid, [])
            stack.append((ts, e["name"]))
        elif ph == "E":
            start, name = stacks[tid].pop()
            slices.setdefault(tid, []).append((start, ts, len(stacks[tid]), name))
            if "args" in e:
                ends.setdefault(tid, []).append((ts, e["args"]))
        elif ph == "i":
            instants.setdefault(tid, []).append((ts, e["name"]))
        elif ph == "b":
            open_async[(e["cat"], e["id"])] = (ts, e["name"], e["args"])
        elif ph == "e":
            start, name, args = open_async.pop((e["cat"], e["id"]))
            if e["cat"] == "timer":
                timers.append((start, ts, "timer %s" % e["id"], e["args"].get("end", "")))
            else:
                asyncs.append((start, ts, "%s req %s" % (name, e["id"]),
                               e["args"].get("res", "")))
        elif ph in "sf":
            # A message's arrow (phase 4, "bp":"e") ends in the slice around its f; a wake's in
            # the next slice that begins on the track. Ids are unique per category.
            flows.setdefault((e.get("cat"), e["id"]), {})[ph] = (tid, ts, e["name"],
                                                                 e.get("bp") == "e")
    end = max(e["ts"] + e.get("dur", 0) for e in events)
    for (cat, _), (start, name, args) in open_async.items():
        (timers if cat == "timer" else asyncs).append((start, end, name, "(still running)"))
    return slices, instants, asyncs, timers, flows, ends


def pack(intervals):
    """Give each (start, end, ...) a lane so that no two in one lane overlap."""
    lanes, out = [], []
    for iv in sorted(intervals):
        for i, last in enumerate(lanes):
            if iv[0] >= last:
                lanes[i] = iv[1]
                out.append((i, iv))
                break
        else:
            lanes.append(iv[1])
            out.append((len(lanes) - 1, iv))
    return out, max(1, len(lanes))


def vruntime_chart(svg, y, axis, width, queues, names, ends, track_header):
    """Each queue's virtual runtime as its slice ends report it: a step line per queue.

    A queue's value is known at the end of each of its slices (and it changes only then, or
    when it wakes up level with the others, which its next slice end shows)."""
    track_header("virtual runtime", CHART_ROWS)
    top, height = y + 8, CHART_ROWS * ROW - 8
    points = {tid: [(ts, a["vruntime"] / 1e6) for ts, a in ends.get(tid, []) if "vruntime" in a]
              for tid in queues}
    vmax = max([v for pts in points.values() for _, v in pts] + [1e-9])
    xend = axis.x0 + width

    def yv(v):
        return top + height - v / vmax * height

    for frac in (0, 0.5, 1):
        gy = yv(frac * vmax)
        svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#dadce0"/>'
                   % (axis.x0, xend, gy, gy))
        svg.append('<text x="%d" y="%.1f" class="tick">%.1f ms</text>'
                   % (axis.x0 + 4, gy - 3, frac * vmax))
    for i, tid in enumerate(queues):
        pts = points[tid]
        if not pts:
            continue
        d, v = "", 0.0
        for ts, nv in pts:
            x = axis.x(ts)
            d += ("M%.1f %.1f" % (x, yv(v)) if not d else " L%.1f %.1f" % (x, yv(v)))
            d += " L%.1f %.1f" % (x, yv(nv))
            v = nv
        d += " L%.1f %.1f" % (xend, yv(v))
        svg.append('<path d="%s" fill="none" stroke="%s" stroke-width="2"><title>%s</title></path>'
                   % (d, color(names[tid]), esc(names[tid])))
        label = names[tid].split(" (")[0]
        svg.append('<rect x="8" y="%d" width="10" height="10" fill="%s"/>'
                   % (y + 28 + i * 16, color(names[tid])))
        svg.append('<text x="22" y="%d" class="instant">%s</text>' % (y + 37 + i * 16, esc(label)))
    return y + CHART_ROWS * ROW + 8


def render(path, out_path, gap, width, title):
    events, names = load(path)
    slices, instants, asyncs, timers, flows, ends = build(events)
    times = [e["ts"] for e in events if e["ph"] != "M"]
    times += [e["ts"] + e["dur"] for e in events if e["ph"] == "X"]
    axis = TimeAxis(times, gap, width)

    svg, y = [], AXIS_H + 30
    lane_y = {}  # (tid, depth) -> y of that lane's top

    def track_header(label, lanes):
        nonlocal y
        svg.append('<rect x="0" y="%d" width="%d" height="%d" fill="#f6f7f9"/>'
                   % (y, LABEL_W + width + 10, lanes * ROW + 8))
        svg.append('<text x="8" y="%d" class="track">%s</text>' % (y + 16, esc(label)))
        svg.append('<line x1="0" x2="%d" y1="%d" y2="%d" stroke="#dadce0"/>'
                   % (LABEL_W + width + 10, y + lanes * ROW + 8, y + lanes * ROW + 8))

    def slice_box(x1, x2, top, name, detail="", fill=None):
        w = max(x2 - x1, 1.5)
        svg.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" rx="2" fill="%s">'
                   '<title>%s</title></rect>'
                   % (x1, top + 2, w, ROW - 4, fill or color(name), esc(name + " " + detail)))
        label = name if w > 7 * len(name) else (name.split(":")[-1].strip() if w > 40 else "")
        if label and w > 7 * len(label):
            svg.append('<text x="%.1f" y="%d" class="slice">%s</text>'
                       % (x1 + 3, top + 15, esc(label)))

    def instant_marks(tid, top, lanes):
        """Diamonds with their names, each in the first lane where its name has room."""
        ends = [-1e9] * lanes
        for ts, name in instants.get(tid, []):
            x = axis.x(ts)
            lane = next((i for i in range(lanes) if ends[i] < x - 6),
                        min(range(lanes), key=lambda i: ends[i]))
            ends[lane] = x + 8 + 6.2 * len(name)
            ly = top + 2 + lane * ROW
            svg.append('<path d="M%.1f %d l5 8 l-5 8 l-5 -8 z" fill="#3c4043"><title>%s</title>'
                       '</path>' % (x, ly, esc(name)))
            svg.append('<text x="%.1f" y="%d" class="instant">%s</text>'
                       % (x + 7, ly + 13, esc(name)))

    executors = sorted(t for t in names if isinstance(t, int) and EXEC <= t < QUEUE)
    queues = sorted(t for t in names if isinstance(t, int) and t >= QUEUE)
    tasks = sorted(t for t in names if isinstance(t, int) and t < EXEC)

    for tid in executors:
        depth = max([d for _, _, d, _ in slices.get(tid, [])] + [0]) + 1
        marks = min(4, len(instants.get(tid, [])))
        lanes = depth + marks  # slices by depth, then up to four lanes of instants
        track_header(names[tid], lanes)
        for d in range(depth):
            lane_y[(tid, d)] = y + 4 + d * ROW
        for s, e, d, name in slices.get(tid, []):
            slice_box(axis.x(s), axis.x(e), lane_y[(tid, d)], name)
        if marks:
            instant_marks(tid, y + 4 + depth * ROW, marks)
        y += lanes * ROW + 8

    # Phase 3: a track per task queue, a slice per time slice in the queue's colour. With one
    # executor its name says enough ("queue 1: two"); with several (phase 4), the executor too.
    several = len(executors) > 1
    for tid in queues:
        track_header(names[tid] if several else names[tid].split(" (")[0], 1)
        for (s, e, d, name), (_, args) in zip(slices.get(tid, []), ends.get(tid, [])):
            slice_box(axis.x(s), axis.x(e), y + 4, "%.2f ms" % (args.get("ran_us", 0) / 1000),
                      "vruntime %.3f ms" % (args.get("vruntime", 0) / 1e6), color(names[tid]))
        y += ROW + 8
    # Virtual runtimes compare the queues of one executor: chart those of executors with several.
    per_ex = {}
    for tid in queues:
        per_ex.setdefault((tid - QUEUE) // 1000, []).append(tid)
    charted = [tid for group in per_ex.values() if len(group) > 1 for tid in group]
    if any(ends.get(tid) for tid in charted):
        y = vruntime_chart(svg, y, axis, width, charted, names, ends, track_header)

    for label, items in (("I/O requests", asyncs), ("timers (heap)", timers)):
        if not items:
            continue
        packed, lanes = pack(items)
        track_header(label, lanes)
        for lane, (s, e, name, res) in packed:
            top = y + 4 + lane * ROW
            slice_box(axis.x(s), axis.x(e), top, name, str(res))
            svg.append('<text x="%.1f" y="%d" class="result">%s</text>'
                       % (axis.x(e) + 4, top + 15, esc("-> " + str(res))))
        y += lanes * ROW + 8

    for tid in tasks:
        lanes = 2  # polls, then instants
        track_header(names[tid], lanes)
        lane_y[(tid, 0)] = y + 4
        for s, e, d, name in slices.get(tid, []):
            slice_box(axis.x(s), axis.x(e), lane_y[(tid, 0)], name)
        instant_marks(tid, y + 4 + ROW, 1)
        y += lanes * ROW + 8

    # Arrows: from the deepest slice enclosing the start to the target's next slice, or, for a
    # message, to the moment it was received, inside the slice that received it.
    for flow in flows.values():
        if "s" not in flow or "f" not in flow:
            continue
        (stid, sts, name, _), (ftid, fts, _, enclosed) = flow["s"], flow["f"]
        enclosing = [d for s, e, d, _ in slices.get(stid, []) if s <= sts <= e]
        if enclosed:
            target = [(s, d) for s, e, d, _ in slices.get(ftid, []) if s <= fts <= e]
            target = [(fts, max(d for _, d in target))] if target else []
        else:
            target = sorted((s, d) for s, e, d, _ in slices.get(ftid, []) if s >= fts)[:1]
        if not enclosing or not target or (ftid, target[0][1]) not in lane_y:
            continue
        x1, y1 = axis.x(sts), lane_y[(stid, max(enclosing))] + ROW / 2
        x2, y2 = axis.x(target[0][0]), lane_y[(ftid, target[0][1])] + ROW / 2
        bend = max(30.0, abs(x2 - x1) / 3) if enclosed else 30
        svg.append('<path d="M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f" class="%s" '
                   'marker-end="url(#%s)"><title>%s</title></path>'
                   % (x1, y1, x1 + bend, y1, x2 - bend, y2, x2, y2,
                      "msg" if enclosed else "flow", "msgarrow" if enclosed else "arrow",
                      esc(name)))

    height = y + 20
    head = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'font-family="DejaVu Sans, Arial, sans-serif">' % (LABEL_W + width + 10, height),
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="#202124"/>'
            '</marker><marker id="msgarrow" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0 L10 5 L0 10 z" '
            'fill="#d93025"/></marker><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eef0f2"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#c6cacf" stroke-width="2"/></pattern>'
            '</defs>',
            '<style>.track{font-size:13px;font-weight:bold;fill:#202124}'
            '.slice{font-size:11px;fill:#fff}.instant{font-size:10px;fill:#3c4043}'
            '.result{font-size:10px;fill:#5f6368}.tick{font-size:10px;fill:#5f6368}'
            '.flow{fill:none;stroke:#202124;stroke-width:1.3}'
            '.msg{fill:none;stroke:#d93025;stroke-width:1.6}'
            '.title{font-size:13px;fill:#202124}.gap{font-size:10px;fill:#5f6368}</style>',
            '<rect width="100%" height="100%" fill="#fff"/>',
            '<text x="8" y="18" class="title">%s</text>' % esc(title)]
    # The time axis: ticks in each busy stretch, and the cut-out stretches.
    axis_svg = []
    for s, e in axis.segments:
        step = nice_step(1 / axis.scale)
        t = (int(s // step) + 1) * step
        while t < e:
            x = axis.x(t)
            axis_svg.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#e8eaed"/>'
                            % (x, x, AXIS_H + 10, height - 10))
            axis_svg.append('<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>'
                            % (x, AXIS_H + 4, "%.3f ms" % (t / 1000) if t >= 1000
                               else "%g us" % t))
            t += step
    for x, w, idle in axis.gaps():
        axis_svg.append('<rect x="%.1f" y="%d" width="%d" height="%d" fill="url(#hatch)"/>'
                        % (x, AXIS_H + 10, w, height - AXIS_H - 20))
        axis_svg.append('<text x="%.1f" y="%d" class="gap" text-anchor="middle">%s</text>'
                        % (x + w / 2, AXIS_H - 10, "%.1f ms idle" % (idle / 1000)
                           if idle >= 1000 else "%d us idle" % idle))
    with open(out_path, "w") as f:
        f.write("\n".join(head + axis_svg + svg + ["</svg>"]))


def usage(why):
    """A bad command line: say why, and how it goes, on stderr; exit status 2."""
    sys.stderr.write("trace-picture.py: %s\n%s\n" % (why, __doc__.split("\n\n")[1]))
    sys.exit(2)


def main(argv):
    args = {"--gap-us": 100.0, "--width": 1700, "--title": None}
    pos = []
    i = 0
    while i < len(argv):
        if argv[i] in args:
            if i + 1 == len(argv):
                usage("%s needs a value" % argv[i])
            if argv[i] != "--title":
                try:
                    value = float(argv[i + 1])
                except ValueError:
                    value = 0
                if not value > 0 or (argv[i] == "--width" and value != int(value)):
                    usage("%s %s: not a positive %s" % (argv[i], argv[i + 1],
                                                       "whole number" if argv[i] == "--width"
                                                       else "number"))
                args[argv[i]] = value
            else:
                args[argv[i]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if len(pos) != 2:
        usage("give a trace to read and a picture to write")
    title = "%s, drawn by docs/trace-picture.py in Perfetto's layout (idle stretches cut out)" % (
        args["--title"] or pos[0])
    try:
        render(pos[0], pos[1], args["--gap-us"], int(args["--width"]), title)
    except OSError as e:  # the trace cannot be read, or the picture written
        sys.exit("trace-picture.py: %s" % e)
    except (ValueError, KeyError, TypeError, IndexError) as e:  # JSON, but not RT_TRACE's
        sys.exit("trace-picture.py: %s: not a JSON trace written by RT_TRACE (%s: %s)"
                 % (pos[0], type(e).__name__, e))


if __name__ == "__main__":
    main(sys.argv[1:])
