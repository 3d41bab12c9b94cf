from pathlib import Path

import pytest
from click.testing import CliRunner

from forecast.cli import cli

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def invoke():
    """Run the real CLI; returns click's Result (stdout and stderr kept apart)."""
    def run(*args, **kwargs):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)
    return run


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path
