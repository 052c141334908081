"""Table of tools/tta.py results: per-domain error or mIoU (mean over seeds) and the mean
+- std over seeds.

    python tools/tta_table.py work_dirs/tta/results [--json model_zoo/digitsc_tta.json]

Reads every ``{method}_{setting}_s{seed}.json`` in the folder (classification: ``errors``;
segmentation: ``miou``).
"""
import argparse
import glob
import json
import os.path as osp
import re
import statistics as st
from collections import defaultdict

ABBR = dict(gaussian_noise='gauss', shot_noise='shot', impulse_noise='impul',
            defocus_blur='defoc', glass_blur='glass', motion_blur='motn', zoom_blur='zoom',
            snow='snow', frost='frost', fog='fog', brightness='brit', contrast='contr',
            elastic_transform='elast', pixelate='pixel', jpeg_compression='jpeg')
ORDER = ['source', 'bn', 'tent', 'cotta', 'rmt', 'rmt_replay']


def collect(folder):
    runs = defaultdict(list)
    for path in sorted(glob.glob(osp.join(folder, '*_s*.json'))):
        m = re.match(r'(.+)_(continual|reset|gradual)_s(\d+)\.json$', osp.basename(path))
        if not m:
            continue
        with open(path) as f:
            runs[(m.group(1), m.group(2))].append(json.load(f))
    return runs


def table(runs, setting):
    keys = sorted((k for k in runs if k[1] == setting),
                  key=lambda k: ORDER.index(k[0]) if k[0] in ORDER else 99)
    if not keys:
        return ''
    per_key, mean_key, label = (('miou', 'mean_miou', 'mean mIoU')
                                if 'miou' in runs[keys[0]][0] else
                                ('errors', 'mean_error', 'mean error'))
    domains = list(runs[keys[0]][0][per_key])
    short = [ABBR.get(d.rsplit('-', 1)[0], d) for d in domains]
    lines = [f'| method | seeds | {" | ".join(short)} | {label} | images/s (ratio to Source) |',
             '| --- ' * (len(domains) + 4) + '|']
    src_speed = None
    if ('source', setting) in runs:
        src_speed = st.mean(r['images_per_s'] for r in runs[('source', setting)])
    for k in keys:
        rs = runs[k]
        per = [st.mean(r[per_key][d] for r in rs) for d in domains]
        means = [r[mean_key] for r in rs]
        sd = st.pstdev(means) if len(means) > 1 else 0.0
        speed = st.mean(r['images_per_s'] for r in rs)
        ratio = f' ({speed / src_speed:.2f})' if src_speed else ''
        lines.append(f'| {k[0]} | {len(rs)} | ' + ' | '.join(f'{v:.1f}' for v in per)
                     + f' | **{st.mean(means):.2f}** +- {sd:.2f} | {speed:.0f}{ratio} |')
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument('folder')
    p.add_argument('--json')
    args = p.parse_args(argv)
    runs = collect(args.folder)
    for setting in ('continual', 'reset', 'gradual'):
        t = table(runs, setting)
        if t:
            print(f'\n{setting}\n{t}')
    if args.json:
        out = {f'{m}/{s}': rs for (m, s), rs in runs.items()}
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()
