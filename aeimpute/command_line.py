"""What the table and pose commands share: the error a user can fix, how options are named,
and the options every command that runs a model has.

The library's messages name settings as Python does (``max_iter=200``); on the
command line the same message names the option (``--max-iter 200``).
"""

from __future__ import annotations

import argparse


class InputError(Exception):
    """A problem the user can fix (file, format, columns, options); exit code 2."""


#: how the library's messages name a setting (Python) -> how the command line names it
_OPTION_WORDS = (
    (r"all_missing='(\w+)'", r"--all-missing \1"),
    (r"column_kinds=\{\.\.\.: '(\w+)'\}", r"""--column-kinds '{"COLUMN": "\1"}'"""),
    (r"temporal=False", "--temporal off"),
    (r"temporal=True", "--temporal on"),
    (r"(linear|trees)=False", r"--\1 off"),
    (r"precision='(\w+)'", r"--precision \1"),
    (r"max_iter=(\d+)", r"--max-iter \1"),
    (r"KeypointImputer\(second_window=(\d+)\)", r"--second-window \1"),
    (r"second_window=(\d+)", r"--second-window \1"),
    (r"smaller second_window", r"smaller second window"),
    (r"KeypointImputer\(window=(\d+)\)", r"--window \1"),
    (r"window=(\d+)", r"--window \1"),
    (
        r"confidence_threshold=(\S+) is set but no confidence was given; pass confidence=\.\.\. "
        r"or set confidence_threshold=None",
        r"--confidence-threshold \1 is set but there are no point scores to compare with",
    ),
    (r"\bxy has (\d+) keypoints", r"the file has \1 keypoints"),
    (
        r"holds (\d+) videos; pass video=0\.\.\d+",
        r"holds \1 videos; the pose commands read files of one video (in Python, "
        r"aeimpute.keypoints.read_slp(path, video=i) reads one of them)",
    ),
    (r"\bxy has (\d+) frames \(the longest recording\)", r"the longest file has \1 frames"),
    (r"Imputer\.load\(path, device='(\w+)'\)", r"--device \1"),
    (r"device='([\w:]+)'", r"--device \1"),
)


def command_line_terms(message: str) -> str:
    """A library message with its Python settings named as command-line options.

    Examples
    --------
    >>> command_line_terms("drop them or pass all_missing='keep' to return them")
    'drop them or pass --all-missing keep to return them'
    """
    import re

    for pattern, replacement in _OPTION_WORDS:
        message = re.sub(pattern, replacement, message)
    return message


def seed_and_threads(sp: argparse.ArgumentParser) -> None:
    """Add ``--seed`` and ``--threads``, as every command that fits a model has them."""
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument(
        "--threads", type=int, default=None,
        help="threads (default: $AEIMPUTE_NUM_THREADS when set, else every core)",
    )  # fmt: skip


def device_option(sp: argparse.ArgumentParser) -> None:
    """Add ``--device``, as every command that runs a model has it."""
    sp.add_argument(
        "--device", default="auto", metavar="DEVICE",
        help="where the network runs: auto (CUDA when present), cpu, cuda or cuda:N",
    )  # fmt: skip
