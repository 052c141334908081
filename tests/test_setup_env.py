"""scripts/setup_env.sh pins every package it installs (scripts/constraints.txt) and names a
constraints file that is not there."""
import configparser
import os
import os.path as osp
import re
import subprocess

from conftest import REPO


def _pins():
    pins = {}
    with open(osp.join(REPO, 'scripts', 'constraints.txt')) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                name, _, version = line.partition('==')
                assert version, f'constraints.txt: {line!r} is not pinned with =='
                pins[re.sub(r'[-_.]+', '-', name).lower()] = version
    return pins


def test_constraints_pin_every_package_setup_cfg_asks_for():
    cfg = configparser.ConfigParser()
    cfg.read(osp.join(REPO, 'setup.cfg'))
    wanted = cfg['options']['install_requires'].split('\n')
    for extra in ('det', 'seg', 'tta', 'dev'):
        wanted += cfg['options.extras_require'][extra].split('\n')
    names = {re.sub(r'[-_.]+', '-', re.split(r'[=<>;\s]', w.strip())[0]).lower()
             for w in wanted if w.strip() and not w.strip().startswith('#')}
    pins = _pins()
    assert names - set(pins) == set(), f'not pinned in constraints.txt: {names - set(pins)}'
    assert pins['mmengine'] == '0.10.7' and pins['mmdet'] == '3.3.0'
    assert 'torch' not in pins and 'mmcv' not in pins  # pinned by the script itself


def test_setup_env_names_a_missing_constraints_file(tmp_path):
    env = dict(os.environ, MTKIT_CONSTRAINTS=str(tmp_path / 'nope.txt'),
               MTKIT_VENV=str(tmp_path / 'venv'))
    r = subprocess.run(['bash', osp.join(REPO, 'scripts', 'setup_env.sh')], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f'MTKIT_CONSTRAINTS={tmp_path / "nope.txt"}: no such file' in r.stderr
    assert not (tmp_path / 'venv').exists()  # nothing created
