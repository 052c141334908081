"""Shared by the offline data generators (``tools/make_*.py``): did an earlier run already
write this output with these settings?"""
import json
import os.path as osp


def holds_settings(out_dir: str, settings: dict) -> bool:
    """True when ``out_dir/meta.json`` exists and records ``settings``: each of its keys
    equal to the meta's value of that key. The settings go through a JSON round trip first,
    so tuples compare equal to the lists the meta holds."""
    path = osp.join(out_dir, 'meta.json')
    if not osp.isfile(path):
        return False
    with open(path) as f:
        meta = json.load(f)
    return all(meta.get(k) == v for k, v in json.loads(json.dumps(settings)).items())
