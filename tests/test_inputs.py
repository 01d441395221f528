from __future__ import annotations

from pathlib import Path

import pytest

from agrilend._paths import is_remote, local_path
from agrilend.errors import InputPathError
from agrilend.inputs import InputFiles, file_checksum


@pytest.mark.parametrize(
    "path",
    [
        "/vsicurl/https://example.org/a.tif",
        "/vsis3/bucket/a.tif",
        "/VSIZIP/a.zip/b.shp",
        "https://example.org/a.gpkg",
        "s3://bucket/key.nc",
        "ftp://host/x",
    ],
)
def test_remote_paths_are_refused(path: str) -> None:
    assert is_remote(path)
    with pytest.raises(InputPathError, match="AGRILEND_ALLOW_REMOTE"):
        local_path(path, allow_remote=False)


def test_remote_paths_pass_when_allowed() -> None:
    assert str(local_path("https://example.org/a.nc", allow_remote=True)).startswith("https:")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputPathError, match=r"titles file .*nope\.gpkg"):
        local_path(tmp_path / "nope.gpkg", what="titles")


def test_checksums_change_with_content(tmp_path: Path) -> None:
    a = tmp_path / "t.gpkg"
    a.write_bytes(b"one")
    b = tmp_path / "c.nc"
    b.write_bytes(b"two")
    files = InputFiles.from_paths(titles=a, imagery=b)
    before = files.checksums()
    a.write_bytes(b"uno")
    after = files.checksums()
    assert before["imagery"] == after["imagery"]
    assert before["titles"] != after["titles"]
    assert files.describe()["titles"]["file"] == "t.gpkg"


def test_folder_checksum_is_order_independent(tmp_path: Path) -> None:
    """Two folders with the same files, written in opposite orders, have one checksum; a
    changed byte or a renamed file gives another."""

    def folder(name: str, order: list[tuple[str, bytes]]) -> Path:
        d = tmp_path / name
        for rel, data in order:
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_bytes(data)
        return d

    files = [("a.json", b"{}"), ("b/0", b"\x00\x01"), ("b/1", b"\x02"), ("c/d/e", b"x")]
    first = folder("one.zarr", files)
    second = folder("two.zarr", list(reversed(files)))
    assert file_checksum(first) == file_checksum(second)
    assert file_checksum(first).startswith("sha256:")
    (second / "b" / "0").write_bytes(b"\x00\x02")
    assert file_checksum(first) != file_checksum(second)
    (second / "b" / "0").write_bytes(b"\x00\x01")
    assert file_checksum(first) == file_checksum(second)
    (second / "b" / "1").rename(second / "b" / "2")
    assert file_checksum(first) != file_checksum(second)


def test_unknown_input_name(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unknown input"):
        InputFiles.from_paths(titles=tmp_path, cube=tmp_path)


def test_absolute_inputs_open_from_another_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster's worker has its own working directory: a scan sends it absolute paths."""
    (tmp_path / "mapping.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    given = InputFiles(Path("t.gpkg"), Path("c.nc"), weather=Path("w.csv"),
                       titles_mapping="mapping.toml")  # fmt: skip
    moved = given.absolute()
    assert moved.titles == tmp_path / "t.gpkg"
    assert moved.imagery == tmp_path / "c.nc"
    assert moved.weather == tmp_path / "w.csv"
    assert moved.titles_mapping == tmp_path / "mapping.toml"
    assert given.titles == Path("t.gpkg")  # the given inputs are left as they were
    preset = InputFiles(Path("t.gpkg"), Path("c.nc"), titles_mapping="cn_contract").absolute()
    assert preset.titles_mapping == "cn_contract"
