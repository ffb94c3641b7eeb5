"""Readers: every format on good input, and every malformed case names file and place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.config import ColumnMapping, DataConfig, TitlesConfig
from training.data import DataError, load_interactions, read_path
from training.data.readers import resolve_format


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_csv_maps_columns_keeps_ids_as_strings_and_sorts(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", "u,i,t,extra\n007,b,20,x\n007,a,10,y\n2,a,5.0,z\n")
    got = read_path(path, columns=ColumnMapping(user="u", item="i", timestamp="t"))
    assert got.has_timestamps
    assert list(got.frame.columns) == ["user_id", "item_id", "timestamp", "row"]
    assert got.frame["user_id"].dtype == object
    assert got.frame["timestamp"].dtype == np.int64
    assert got.frame["user_id"].tolist() == ["007", "007", "2"]  # "007" is not 7
    assert got.frame["item_id"].tolist() == ["a", "b", "a"]  # by time within user
    assert got.frame["row"].tolist() == [1, 0, 2]


@pytest.mark.parametrize(("name", "sep"), [("log.csv", ";"), ("log.tsv", "\t"), ("log.csv", "|")])
def test_read_csv_sniffs_the_delimiter(tmp_path: Path, name: str, sep: str) -> None:
    rows = [["user_id", "item_id", "timestamp"], ["1", "a", "3"], ["1", "b", "4"]]
    path = write(tmp_path / name, "\n".join(sep.join(row) for row in rows) + "\n")
    got = read_path(path)
    assert got.frame["item_id"].tolist() == ["a", "b"]


def test_read_csv_uses_configured_separator(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", "user_id::item_id::timestamp\n1::a::3\n1::b::2\n")
    got = read_path(path, separator="::")
    assert got.frame["item_id"].tolist() == ["b", "a"]


def test_read_csv_without_timestamps_keeps_file_order(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", "user_id,item_id\n1,b\n1,a\n")
    got = read_path(path, columns=ColumnMapping(timestamp=None))
    assert not got.has_timestamps
    assert "timestamp" not in got.frame.columns
    assert got.frame["item_id"].tolist() == ["b", "a"]


def test_read_csv_detects_movielens_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,31,2.5,100\n")
    got = read_path(path)
    assert got.frame["item_id"].tolist() == ["31"]
    assert got.frame["timestamp"].tolist() == [100]


def test_read_csv_missing_column_names_file_and_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "ratings.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match=r"ratings\.csv: missing column 'userId'.*have: a, b, c"):
        read_path(path, columns=ColumnMapping(user="userId", item="b", timestamp="c"))


def test_read_csv_missing_timestamp_column_suggests_null(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", "user_id,item_id\n1,2\n")
    with pytest.raises(DataError, match=r"log\.csv: missing column 'timestamp'.*null"):
        read_path(path)


@pytest.mark.parametrize("bad", ["abc", "1.5", ""])
def test_read_csv_non_integer_timestamp_names_column_and_row(tmp_path: Path, bad: str) -> None:
    rows = "".join(f"1,{i},{i}\n" for i in range(4)) + f"1,9,{bad}\n"
    path = write(tmp_path / "ratings.csv", "user_id,item_id,timestamp\n" + rows)
    with pytest.raises(
        DataError,
        match=r"ratings\.csv: column 'timestamp' has non-integer value .* at row 5 \(line 6\)",
    ):
        read_path(path)


def test_read_csv_missing_id_names_row(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", "user_id,item_id,timestamp\n1,a,1\n,b,2\n")
    with pytest.raises(DataError, match=r"log\.csv: column 'user_id' has a missing value at row 2"):
        read_path(path)


def test_read_csv_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "")
    with pytest.raises(DataError, match=r"x\.csv: file is empty"):
        read_path(path)


def test_read_csv_header_only(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "user_id,item_id,timestamp\n")
    with pytest.raises(DataError, match=r"x\.csv: no data rows"):
        read_path(path)


def test_read_parquet(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pd.DataFrame({"user_id": [5, 5], "item_id": [7, 8], "timestamp": [2.0, 1.0]}).to_parquet(path)
    got = read_path(path)
    assert got.frame["user_id"].tolist() == ["5", "5"]
    assert got.frame["item_id"].tolist() == ["8", "7"]


def test_read_parquet_missing_column_and_bad_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "log.pq"
    pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2], "ts": [1.0, 2.5]}).to_parquet(path)
    with pytest.raises(
        DataError, match=r"log\.pq: missing column 'timestamp'.*have: user_id, item_id, ts"
    ):
        read_path(path)
    with pytest.raises(
        DataError, match=r"log\.pq: column 'ts' has non-integer value 2\.5 at row 2$"
    ):
        read_path(path, columns=ColumnMapping(timestamp="ts"))


def test_read_parquet_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"x\.parquet: file is empty"):
        read_path(write(tmp_path / "x.parquet", ""))


def test_read_sequences_skips_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "seq.txt", "u1 a b c\n\nu2 c a\n   \n")
    got = read_path(path)
    assert not got.has_timestamps
    assert got.frame["user_id"].tolist() == ["u1"] * 3 + ["u2"] * 2
    assert got.frame["item_id"].tolist() == ["a", "b", "c", "c", "a"]
    assert got.frame["row"].tolist() == [0, 1, 2, 3, 4]


def test_read_sequences_ragged_line_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "seq.txt", "u1 a b\nu2 a\n\nu3\nu4 b\n")
    with pytest.raises(DataError, match=r"seq\.txt line 4: .*user with no items"):
        read_path(path, fmt="sequences")


def test_read_pairs_keeps_each_users_order(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.txt", "2 x\n1 b\n2 y\n1 a\n")
    got = read_path(path)
    assert got.frame["user_id"].tolist() == ["1", "1", "2", "2"]
    assert got.frame["item_id"].tolist() == ["b", "a", "x", "y"]


def test_read_pairs_wrong_field_count_names_line(tmp_path: Path) -> None:
    lines = "".join(f"{i} {i}\n" for i in range(16)) + "16 a b\n"
    path = write(tmp_path / "seq.txt", lines)
    with pytest.raises(DataError, match=r"seq\.txt line 17: expected 'user item', got 3 fields"):
        read_path(path, fmt="pairs")


@pytest.mark.parametrize("fmt", ["sequences", "pairs"])
def test_read_text_empty_file(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path / "x.txt", "\n\n")
    with pytest.raises(DataError, match=r"x\.txt: file is empty"):
        read_path(path, fmt=fmt)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"x\.txt: file is empty"):
        read_path(path)


def test_auto_format_by_extension_and_content(tmp_path: Path) -> None:
    assert resolve_format(tmp_path / "a.csv", "auto") == "csv"
    assert resolve_format(tmp_path / "a.tsv", "auto") == "csv"
    assert resolve_format(tmp_path / "a.pq", "auto") == "parquet"
    assert resolve_format(write(tmp_path / "p.txt", "1 a\n\n1 b\n"), "auto") == "pairs"
    assert resolve_format(write(tmp_path / "s.txt", "1 a\n2 b c\n"), "auto") == "sequences"
    with pytest.raises(DataError, match=r"a\.json: cannot tell the format"):
        resolve_format(tmp_path / "a.json", "auto")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        read_path(tmp_path / "nope.csv")


def test_folder_with_movielens_files_gets_titles(tmp_path: Path) -> None:
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,5\n1,20,3.0,4\n")
    write(
        tmp_path / "movies.csv", 'movieId,title,genres\n10,"Heat, The (1995)",Action\n20,Up,Kids\n'
    )
    got = read_path(tmp_path)
    assert got.frame["item_id"].tolist() == ["20", "10"]
    assert got.titles == {"10": "Heat, The (1995)", "20": "Up"}


def test_folder_with_ml1m_layout(tmp_path: Path) -> None:
    write(tmp_path / "ratings.dat", "1::10::5::978300760\n1::20::3::978300000\n")
    (tmp_path / "movies.dat").write_bytes("10::Caf\xe9 (1990)::Drama\n".encode("latin-1"))
    got = read_path(tmp_path)
    assert got.frame["item_id"].tolist() == ["20", "10"]
    assert got.titles == {"10": "Café (1990)"}


def test_folder_with_sequences_and_empty_folder(tmp_path: Path) -> None:
    data = tmp_path / "beauty"
    data.mkdir()
    write(data / "sequences.txt", "1 a b\n")
    assert len(read_path(data)) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty: folder has none of"):
        read_path(empty)


def test_load_interactions_applies_preprocessing_and_titles(tmp_path: Path) -> None:
    log = write(tmp_path / "log.csv", "user_id,item_id,timestamp\n1,a,1\n1,a,1\n1,b,2\n2,a,3\n")
    titles = write(tmp_path / "names.csv", "id,name\na,Apple\nb,Banana\n")
    cfg = DataConfig(
        source=str(log),
        min_sequence_length=2,
        titles=TitlesConfig(path=str(titles), item="id", title="name"),
    )
    got = load_interactions(cfg)
    assert got.frame["item_id"].tolist() == ["a", "b"]  # duplicate gone, user 2 too short
    assert got.titles == {"a": "Apple", "b": "Banana"}


def test_titles_file_missing_column(tmp_path: Path) -> None:
    log = write(tmp_path / "log.csv", "user_id,item_id,timestamp\n1,a,1\n")
    titles = write(tmp_path / "names.csv", "id,name\na,Apple\n")
    cfg = DataConfig(source=str(log), titles=TitlesConfig(path=str(titles)))
    with pytest.raises(DataError, match=r"names\.csv: missing column 'item_id' \(have: id, name\)"):
        load_interactions(cfg)


@pytest.mark.shared_data
def test_shared_ml_latest_small(shared_data: Path) -> None:
    got = read_path(shared_data / "ml-latest-small")
    assert (len(got), got.n_users, got.n_items) == (100_836, 610, 9_724)
    assert got.has_timestamps
    assert got.titles is not None
    assert got.titles["1"] == "Toy Story (1995)"


@pytest.mark.shared_data
def test_shared_amazon_beauty_sequences(shared_data: Path) -> None:
    got = read_path(shared_data / "amazon-beauty" / "sequences.txt")
    assert (len(got), got.n_users, got.n_items) == (198_502, 22_363, 12_101)
    assert not got.has_timestamps


@pytest.mark.shared_data
def test_shared_amazon_beauty_54k_pairs(shared_data: Path) -> None:
    got = read_path(shared_data / "amazon-beauty-54k")
    assert (len(got), got.n_users, got.n_items) == (353_962, 40_226, 54_542)
