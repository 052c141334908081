"""Build the DigitScenes-det 10% table of tools/README.md from finished work dirs.

    python tools/digitscenes_table.py SUP_DIR:SEED ... --mt MT_DIR:SEED ... [--json OUT]

Prints a Markdown table (mAP at every validation step, per seed, and the mean) and writes the
raw metrics as JSON.
"""
import argparse
import json
import statistics

if __package__:
    from .collect_results import read_run
else:  # python tools/digitscenes_table.py
    from collect_results import read_run


def _runs(items):
    out = {}
    for item in items:
        path, seed = item.rsplit(':', 1)
        out[int(seed)] = read_run(path)
    return out


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument('sup', nargs='+')
    p.add_argument('--mt', nargs='+', required=True)
    p.add_argument('--json')
    args = p.parse_args(argv)
    sup, mt = _runs(args.sup), _runs(args.mt)
    steps = sorted({int(s) for r in list(sup.values()) + list(mt.values()) for s in r['val']})
    rows = [('supervised only', sup, 'coco/bbox_mAP'),
            ('mean teacher: teacher', mt, 'teacher/coco/bbox_mAP'),
            ('mean teacher: student', mt, 'student/coco/bbox_mAP')]
    print('| model | seed | ' + ' | '.join(f'iter {s}' for s in steps) + ' |')
    print('| --- | --- | ' + ' | '.join('---' for _ in steps) + ' |')
    for name, runs, key in rows:
        for seed, run in sorted(runs.items()):
            vals = [run['val'].get(str(s), {}).get(key) for s in steps]
            cells = ' | '.join('-' if v is None else f'{v:.3f}' for v in vals)
            print(f'| {name} | {seed} | {cells} |')
        means = []
        for s in steps:
            vs = [r['val'][str(s)][key] for r in runs.values() if str(s) in r['val']]
            means.append(f'**{statistics.mean(vs):.3f}**' if len(vs) == len(runs) else '-')
        print(f'| {name} | mean of {len(runs)} | ' + ' | '.join(means) + ' |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(supervised=sup, mean_teacher=mt), f, indent=1)


if __name__ == '__main__':
    main()
