/// The pages' own styles (beside the console's stylesheet): the board's cards and bars, lights,
/// countdowns, timelines, charts. The font list puts a CJK font first that Debian's fonts-wqy-microhei
/// provides, so Chinese reads well on a machine without the usual desktop fonts.
enum PageStyle {
    static let tag = "<style>\(css)</style>"

    static let css = """
        body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
          system-ui, sans-serif; }
        .page-head { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; margin-bottom: 1rem; }
        .page-head h1 { margin: 0; }
        a.button.secondary { background: #e4e7eb; color: var(--ink); } a.button:hover { text-decoration: none; }
        .page-head .meta { color: var(--muted); }
        .live-state { font-size: .85rem; color: var(--green); }
        .live-state::before { content: "●"; margin-right: .3rem; }
        .live-state.stale { color: var(--muted); }
        .grid { display: grid; gap: 1.25rem; }
        .board-grid { grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); }
        .grid-2 { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
        .grid > .card { margin-bottom: 0; }
        .grid { margin-bottom: 1.25rem; }
        @media (max-width: 1100px) { .board-grid, .grid-2 { grid-template-columns: 1fr; } }
        .kpis { display: flex; flex-wrap: wrap; gap: .75rem; margin-bottom: 1.25rem; }
        .kpi { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: .8rem 1rem;
          min-width: 7.5rem; flex: 1; box-shadow: 0 1px 2px rgba(0,0,0,.04); border-top: 4px solid var(--accent); }
        .kpi.red { border-top-color: var(--red); } .kpi.yellow { border-top-color: var(--yellow); } .kpi.green { border-top-color: var(--green); }
        .kpi-value { font-size: 2rem; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
        .kpi.red .kpi-value { color: var(--red); } .kpi.yellow .kpi-value { color: #b7791f; } .kpi.green .kpi-value { color: var(--green); }
        .kpi-label { color: var(--muted); font-size: .9rem; margin-top: .2rem; }
        .kpi-sep { flex-basis: 100%; height: 0; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        th.sub { font-weight: 400; font-size: .8rem; }
        .c-red { color: var(--red); font-weight: 600; } .c-yellow { color: #b7791f; font-weight: 600; } .c-green { color: var(--green); }
        table.lights tr.district td { font-weight: 600; background: #fafbfc; }
        table.lights tr.town td:first-child { padding-left: 1.6rem; color: var(--muted); }
        table.lights .barcol { width: 32%; }
        table.rates td, table.rates th { padding: .45rem .4rem; }
        table.rates tr.total td { font-weight: 700; border-top: 2px solid var(--line); }
        .stack { display: flex; height: .85rem; background: #eef1f4; border-radius: 4px; overflow: hidden; min-width: 4rem; margin-top: .25rem; }
        .stack span { display: block; height: 100%; }
        .stack .g { background: var(--green); } .stack .y { background: var(--yellow); } .stack .r { background: var(--red); }
        .light.none { background: #cbd2d9; }
        .light { width: .85rem; height: .85rem; box-shadow: 0 0 0 2px rgba(0,0,0,.04); }
        ol.ticket-list { list-style: none; margin: 0; padding: 0; }
        ol.ticket-list li { display: grid; grid-template-columns: auto 1fr auto; column-gap: .5rem; align-items: baseline;
          padding: .5rem 0; border-bottom: 1px solid var(--line); }
        ol.ticket-list li .summary { grid-column: 2 / 3; color: var(--muted); font-size: .88rem; white-space: nowrap; overflow: hidden;
          text-overflow: ellipsis; }
        ol.ticket-list li .right { grid-column: 3; grid-row: 1 / span 2; align-self: center; }
        .mono { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: .92em; }
        .countdown { font-variant-numeric: tabular-nums; white-space: nowrap; color: var(--green); font-weight: 600; }
        .countdown.soon { color: #b7791f; } .countdown.late { color: var(--red); } .countdown.none { color: var(--muted); font-weight: 400; }
        h2.sub { margin-top: 1.2rem; }
        .desk-mini { display: grid; grid-template-columns: repeat(4, 1fr); gap: .5rem; }
        .desk-mini div { background: #f5f7fa; border-radius: 6px; padding: .5rem; text-align: center; }
        .desk-mini .n { display: block; font-size: 1.5rem; font-weight: 700; color: var(--accent); }
        .unit-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .75rem; }
        .unit-tile { display: block; border: 1px solid var(--line); border-radius: 6px; padding: .6rem .75rem; color: var(--ink); }
        .unit-tile:hover { border-color: var(--accent); text-decoration: none; }
        .unit-name { font-weight: 600; }
        .small { font-size: .85rem; }
        .filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; }
        .filters label { margin: 0 0 .2rem; }
        .filters > div { min-width: 9rem; }
        .filters .grow { flex: 1; min-width: 14rem; }
        .light-summary { display: flex; gap: 1.25rem; margin-left: auto; font-size: .95rem; }
        table.inbox td { vertical-align: middle; }
        table.inbox td.summary { max-width: 28rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
        tr.row-red td:first-child { box-shadow: inset 4px 0 0 var(--red); }
        tr.row-yellow td:first-child { box-shadow: inset 4px 0 0 var(--yellow); }
        tr.row-green td:first-child { box-shadow: inset 4px 0 0 var(--green); }
        .pager { display: flex; gap: .5rem; align-items: center; justify-content: flex-end; margin-top: .75rem; }
        .pager a, .pager span { padding: .3rem .7rem; border: 1px solid var(--line); border-radius: 6px; }
        dl.fields { display: grid; grid-template-columns: 8rem 1fr; gap: .45rem 1rem; margin: 0; }
        dl.fields dt { color: var(--muted); } dl.fields dd { margin: 0; }
        .ticket-text { white-space: pre-wrap; background: #f9fafb; border-left: 4px solid var(--accent); padding: .75rem 1rem;
          border-radius: 4px; line-height: 1.7; margin: .25rem 0 0; }
        ul.explain { margin: .25rem 0 0; padding-left: 1.2rem; color: var(--muted); font-size: .9rem; }
        ol.timeline { list-style: none; margin: 0; padding: 0 0 0 1rem; border-left: 2px solid var(--line); }
        ol.timeline li { position: relative; padding: 0 0 1rem .9rem; }
        ol.timeline li::before { content: ""; position: absolute; left: -1.45rem; top: .35rem; width: .7rem; height: .7rem;
          border-radius: 50%; background: var(--accent); border: 2px solid #fff; box-shadow: 0 0 0 1px var(--line); }
        ol.timeline li.red::before { background: var(--red); } ol.timeline li.yellow::before { background: var(--yellow); }
        ol.timeline li.done::before { background: var(--green); }
        ol.timeline .when { color: var(--muted); font-size: .85rem; margin-right: .5rem; font-variant-numeric: tabular-nums; }
        ol.timeline .what { font-weight: 600; }
        ol.timeline .detail { color: var(--muted); font-size: .9rem; margin-top: .15rem; }
        .actions { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: 1rem; }
        .actions form { border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; background: #fcfdfe; }
        .actions h3 { margin: 0 0 .4rem; font-size: 1rem; }
        .actions button { margin-top: .6rem; }
        .ticket-head { display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; }
        .ticket-head h1 { margin: 0; }
        .chart { width: 100%; height: auto; }
        .chart text { font-family: inherit; font-size: 12px; fill: #3e4c59; }
        .tabs { display: flex; gap: .5rem; margin-bottom: 1rem; flex-wrap: wrap; }
        .tabs a { padding: .35rem .8rem; border-radius: 999px; background: #e4e7eb; color: var(--ink); }
        .tabs a.on { background: var(--accent); color: #fff; }
        pre.diag { background: #1f2933; color: #e4e7eb; padding: .75rem 1rem; border-radius: 6px; overflow: auto; font-size: .85rem; }
        .ok-mark { color: var(--green); font-weight: 600; } .bad-mark { color: var(--red); font-weight: 600; }
        @media (min-width: 1800px) { .kpi-value { font-size: 2.6rem; } }
        """
}
