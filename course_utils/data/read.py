"""Reading the CSV files with pyarrow: validated, typed, and streamed.

Every reader checks the header first (a missing or renamed column is refused
with the names it expected and found) and turns any parse problem into a
:class:`~course_utils.data.errors.DataFormatError` that names the file, the line
and the column. The big list file is never read whole: :func:`iter_lists`
yields Arrow record batches with compact numeric columns.

Line numbers count the header as line 1. They are exact for UserAnimeList.csv
(whose values never span lines); for AnimeList.csv and UserList.csv, whose
quoted text may contain line breaks, errors give the data row instead.

Example
-------
>>> from course_utils.data.read import read_header
>>> read_header(path)  # doctest: +SKIP
['username', 'anime_id', ...]
"""
from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from course_utils.data.errors import DataFormatError

BLOCK_SIZE = 16 << 20  # bytes of CSV per batch
NULLS = ["", "0000-00-00", "0000-00-00 00:00:00"]
_INT = re.compile(r"^\s*-?\d+\s*$")


# ----------------------------------------------------------------------------
# header and file-level checks
# ----------------------------------------------------------------------------
# the first bytes of compressed files, and how to unpack each
_MAGIC = (
    (b"\x1f\x8b", "gzip", "gunzip -c {name} > unpacked.csv (or: python -m gzip -d), then use "
                          "the unpacked file under the name {name}"),
    (b"PK\x03\x04", "zip", "unzip it (unzip {name}) and use the CSV file inside"),
    (b"BZh", "bzip2", "bunzip2 -c {name} > unpacked.csv, then use the unpacked file under the name {name}"),
    (b"\xfd7zXZ\x00", "xz", "unxz -c {name} > unpacked.csv, then use the unpacked file under the name {name}"),
    (b"\x28\xb5\x2f\xfd", "zstd", "zstd -d -c {name} > unpacked.csv, then use the unpacked file "
                                  "under the name {name}"),
)


def check_not_compressed(path: Path) -> None:
    """Refuse a compressed file saved under a ``.csv`` name, saying how to unpack it.

    Example
    -------
    >>> import gzip, tempfile
    >>> p = Path(tempfile.mkdtemp()) / "rating.csv"
    >>> _ = p.write_bytes(gzip.compress(b"user_id,anime_id,rating\\n1,20,-1\\n"))
    >>> try:
    ...     check_not_compressed(p)
    ... except DataFormatError as err:
    ...     print(err.reason)
    the file is gzip-compressed, not plain CSV text
    """
    with open(path, "rb") as fh:
        start = fh.read(8)
    for magic, kind, how in _MAGIC:
        if start.startswith(magic):
            raise DataFormatError(path, f"the file is {kind}-compressed, not plain CSV text",
                                  fix=how.format(name=Path(path).name))


def first_non_utf8_line(path: Path) -> tuple[int, bytes] | None:
    """The first line (1-based, counting physical lines) that is not valid UTF-8, and its bytes.

    Example
    -------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "anime.csv"
    >>> _ = p.write_bytes(b"anime_id,name\\n1,Caf\\xe9\\n")
    >>> first_non_utf8_line(p)
    (2, b'1,Caf\\xe9\\n')
    """
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number, raw
    return None


def non_utf8_error(path: Path) -> DataFormatError:
    """The error for a file with a byte that is not UTF-8: the line and how to re-save it."""
    found = first_non_utf8_line(path)
    line, raw = found if found is not None else (None, b"")
    try:
        raw.decode("utf-8")
        bad = b""
    except UnicodeDecodeError as exc:
        bad = raw[exc.start:exc.end]
    shown = raw.decode("utf-8", errors="replace").rstrip("\r\n")[:80]
    return DataFormatError(
        path, f"the file is not UTF-8 text: byte {bad.hex(' ') or '?'} cannot be decoded "
        f"({shown!r}); the loader does not guess encodings, so no value is silently changed",
        line=line, fix="download the original file again (the Kaggle files are UTF-8), or re-save "
        "it as UTF-8: 'Save as → CSV UTF-8' in a spreadsheet, or, for a file saved as Latin-1, "
        f"iconv -f latin1 -t utf-8 {Path(path).name} > fixed.csv")


def read_header(path: Path) -> list[str]:
    """The column names of a CSV file, after checking it is neither empty nor headless."""
    check_not_compressed(path)
    with open(path, "rb") as fh:
        first = fh.readline(1 << 20)
        second = fh.readline(1 << 20)
    if not first.strip():
        raise DataFormatError(path, "the file is empty (0 bytes)" if not first else
                              "the first line is empty; expected a header line with column names",
                              line=1, fix="download or generate the file again")
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
        header = [c.strip() for c in next(csv.reader([text]))]
    except UnicodeDecodeError:
        raise non_utf8_error(path) from None
    except csv.Error as exc:
        raise DataFormatError(path, f"the header line cannot be read as CSV: {exc}", line=1,
                              fix="compare the file with the original; download it again") from None
    if not second.strip():
        raise DataFormatError(path, "the file has a header but no data rows", line=2,
                              fix="download or generate the file again (it may have been cut short)")
    return header


def check_columns(path: Path, header: list[str], needed: tuple[str, ...]) -> None:
    """Refuse a file that lacks a needed column, naming it and near misses."""
    missing = [c for c in needed if c not in header]
    if not missing:
        return
    hints = []
    for col in missing:
        near = difflib.get_close_matches(col, header, n=1, cutoff=0.6)
        if near:
            hints.append(f"{col!r} (found {near[0]!r} — renamed?)")
        else:
            hints.append(repr(col))
    raise DataFormatError(
        path, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(hints)}; "
        f"the header has: {', '.join(header)}", column=", ".join(missing),
        fix="use the original file from the dataset, or rename the column(s) back "
            "(extra columns are fine)")


def _tail(path: Path, size: int = 1 << 16) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(0, io.SEEK_END)
        end = fh.tell()
        fh.seek(max(0, end - size))
        return fh.read()


def last_line_if_unterminated(path: Path) -> str | None:
    """The last line's text when the file does not end with a line break, else None."""
    tail = _tail(path)
    if not tail or tail.endswith(b"\n"):
        return None
    return tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace").rstrip("\r")


def _truncation_check(path: Path, header: list[str]) -> None:
    """A last line without a line break that is also incomplete means a truncated file."""
    last = last_line_if_unterminated(path)
    if last is None:
        return
    try:
        fields = next(csv.reader([last]), [])
    except csv.Error as exc:
        raise DataFormatError(path, f"the last line cannot be read as CSV: {exc}",
                              fix="compare the file with the original; download it again") from None
    if last.count('"') % 2 == 1 or len(fields) != len(header):
        raise DataFormatError(
            path, f"the file looks truncated: its last line ends in the middle of a record "
            f"({len(fields)} of {len(header)} fields, no line break): {last[:80]!r}",
            fix="the download or unzip was interrupted; get the file again")


# ----------------------------------------------------------------------------
# small files (read whole): AnimeList.csv, UserList.csv, anime.csv
# ----------------------------------------------------------------------------
def read_table(path: Path, needed: tuple[str, ...], optional: tuple[str, ...] = (),
               types: dict[str, pa.DataType] | None = None) -> pd.DataFrame:
    """Read the needed (and present optional) columns of a small CSV file.

    ``types`` gives the columns that must parse as numbers; the others are
    read as text. Quoted values may contain commas and line breaks.
    """
    header = read_header(path)
    check_columns(path, header, needed)
    _truncation_check(path, header)
    cols = list(needed) + [c for c in optional if c in header and c not in needed]
    types = {k: v for k, v in (types or {}).items() if k in cols}
    text_types = {c: pa.string() for c in cols if c not in types}
    invalid: list[str] = []

    def on_invalid(row) -> str:
        invalid.append(f"a row has {row.actual_columns} fields instead of "
                       f"{row.expected_columns}: {row.text[:80]!r}")
        return "skip"

    # integer columns are parsed as floats: the real files write some of them as `0.0`
    parse_types = {c: (pa.float64() if pa.types.is_integer(t) else t) for c, t in types.items()}
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=cols, column_types={**text_types, **parse_types},
                null_values=NULLS, strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            raise non_utf8_error(path) from None
        raise _diagnose_table(path, cols, types, exc) from None
    except (pa.ArrowException, OSError) as exc:
        raise DataFormatError(path, f"cannot read the file: {exc}",
                              fix="compare it with the original file; download it again") from None
    if invalid:
        raise DataFormatError(path, invalid[0], fix="repair or delete that row")
    for col, typ in types.items():
        nulls = table.column(col).null_count
        if nulls and col in needed and not pa.types.is_floating(typ):
            row = int(np.flatnonzero(table.column(col).is_null().to_numpy(zero_copy_only=False))[0]) + 1
            raise DataFormatError(path, f"data row {row} has no value for {col}", column=col,
                                  fix="fill in the value or delete the row")
        if pa.types.is_integer(typ):
            values = table.column(col).combine_chunks()
            bad = _not_integral(values, typ)
            if bad is not None:
                raise DataFormatError(path, f"data row {bad + 1}: {col} is not an integer: "
                                      f"{values[bad].as_py()!r}", column=col,
                                      fix="correct the value or delete the row")
            index = table.schema.get_field_index(col)
            table = table.set_column(index, col, values.cast(typ) if col in needed
                                     else values)  # optional integers keep NaN for empty
    return table.to_pandas()


def _not_integral(values: pa.Array, typ: pa.DataType) -> int | None:
    """Position of the first value that is not a whole number within ``typ``'s range, or None.

    Example
    -------
    >>> _not_integral(pa.array([0.0, 1.0, None]), pa.int16()), _not_integral(pa.array([2.0, 0.5]), pa.int8())
    (None, 1)
    """
    x = values.to_numpy(zero_copy_only=False)
    info = np.iinfo(typ.to_pandas_dtype())
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(x) & ((x != np.floor(x)) | (x < info.min) | (x > info.max))
    return int(np.flatnonzero(bad)[0]) if bad.any() else None


def _diagnose_table(path: Path, cols: list[str], types: dict[str, pa.DataType],
                    exc: Exception) -> DataFormatError:
    """Find the first value that does not parse, reading everything as text."""
    table = pacsv.read_csv(
        path, read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda r: "skip"),
        convert_options=pacsv.ConvertOptions(include_columns=cols,
                                             column_types={c: pa.string() for c in cols}))
    for col, typ in types.items():
        values = table.column(col).to_numpy(zero_copy_only=False)
        ok = pd.to_numeric(pd.Series(values).replace(dict.fromkeys(NULLS, np.nan)), errors="coerce").notna() \
            | pd.Series(values).isin(NULLS)
        if not ok.all():
            row = int(np.flatnonzero(~ok.to_numpy())[0])
            return DataFormatError(path, f"data row {row + 1}: {col} is not a number: {values[row]!r}",
                                   column=col, fix="correct the value or delete the row")
    return DataFormatError(path, f"cannot parse the file: {exc}", fix="compare it with the original file")


# ----------------------------------------------------------------------------
# the big file, streamed: UserAnimeList.csv
# ----------------------------------------------------------------------------
LIST_TYPES = {
    "username": pa.string(),
    "anime_id": pa.int64(),
    "my_watched_episodes": pa.int64(),
    "my_score": pa.int16(),
    "my_status": pa.int16(),
    "my_rewatching": pa.int16(),
    "my_last_updated": pa.int64(),  # seconds since 1970 (from either form)
    "my_tags": pa.string(),
}
_DATE_TIME = "%Y-%m-%d %H:%M:%S"
_NUMBER = r"^\s*-?\d+(\.\d*)?\s*$"


def iter_lists(path: Path, needed: tuple[str, ...], optional: tuple[str, ...] = (),
               block_size: int = BLOCK_SIZE) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Stream a user-list file as ``(first_line_number, batch)`` pairs.

    Columns come out typed as in :data:`LIST_TYPES`. Integer columns may be
    written as integers or as whole floats (``0.0``, as in the dataset
    author's ``animelists_cleaned.csv``); ``my_last_updated`` may be Unix
    seconds (``UserAnimeList.csv``) or date-time text like
    ``2013-03-03 10:52:53``, line by line, and comes out as seconds since
    1970. Empty values and ``0000-00-00`` become nulls. Raises
    :class:`DataFormatError` for a malformed line, a value that does not
    parse, a line break inside a value, a byte that is not UTF-8, a
    compressed file and a truncated file.
    """
    header = read_header(path)
    check_columns(path, header, needed)
    _truncation_check(path, header)
    cols = list(needed) + [c for c in optional if c in header and c not in needed]
    types = {c: LIST_TYPES.get(c, pa.string()) for c in cols}
    parse_types = {c: (pa.string() if c == "my_last_updated" else
                       pa.float64() if pa.types.is_integer(t) else t) for c, t in types.items()}
    invalid: list[tuple[int | None, int, int, str]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    read_options = pacsv.ReadOptions(use_threads=True, column_names=header, skip_rows=0)
    parse_options = pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False,
                                       invalid_row_handler=on_invalid)
    convert_options = pacsv.ConvertOptions(include_columns=cols, column_types=parse_types,
                                           null_values=NULLS, strings_can_be_null=False,
                                           quoted_strings_can_be_null=False)
    row0 = 0
    # pyarrow's own streaming reader reads the whole file ahead of the consumer (its peak
    # grows with the file); whole lines are cut here instead, one block at a time
    for chunk in _line_blocks(path, block_size):
        try:
            table = pacsv.read_csv(pa.BufferReader(chunk), read_options=read_options,
                                   parse_options=parse_options, convert_options=convert_options)
        except pa.ArrowInvalid as exc:
            if invalid:
                raise _malformed(path, header, invalid) from None
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                raise non_utf8_error(path) from None
            raise _diagnose_lists(path, cols, types, exc) from None
        except (pa.ArrowException, OSError) as exc:
            raise DataFormatError(path, f"cannot read the file: {exc}",
                                  fix="compare it with the original file; download it again") from None
        del chunk
        if invalid:
            raise _malformed(path, header, invalid) from None
        if table.num_rows == 0:
            continue
        batch = table.combine_chunks().to_batches()[0]
        del table
        for col in ("username", "my_tags"):
            if col in cols:
                broken = pc.match_substring(batch.column(col), "\n")
                if pc.any(broken).as_py():
                    row = int(np.flatnonzero(broken.to_numpy(zero_copy_only=False))[0])
                    raise DataFormatError(
                        path, f"a quote opened in {col} is never closed, so the following "
                        "lines were swallowed into this value", line=row0 + row + 2, column=col,
                        fix="close the quote or remove it")
        yield row0 + 2, _typed_batch(path, batch, types, row0 + 2)
        row0 += batch.num_rows


def _line_blocks(path: Path, block_size: int) -> Iterator[bytes]:
    """The file after its header line, in blocks of about ``block_size`` bytes of whole lines."""
    with open(path, "rb") as fh:
        fh.readline()  # the header
        rest = b""
        while True:
            data = fh.read(block_size)
            if not data:
                if rest:
                    yield rest
                return
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # no line end yet: read on
                rest = data
                continue
            rest = data[cut:]
            yield data[:cut]


def _typed_batch(path: Path, batch: pa.RecordBatch, types: dict[str, pa.DataType],
                 first_line: int) -> pa.RecordBatch:
    """Whole floats to compact integers, both time forms to seconds; refuse anything else."""
    arrays = []
    for name in batch.schema.names:
        col, typ = batch.column(name), types[name]
        if name == "my_last_updated":
            col = _seconds(path, col, first_line)
        elif pa.types.is_integer(typ):
            bad = _not_integral(col, typ)
            if bad is not None:
                value = col[bad].as_py()
                whole = value == int(value)
                raise DataFormatError(
                    path, f"{name} value {value!r} is out of range for {typ}" if whole else
                    f"{name} is not an integer: {value!r}", line=first_line + bad, column=name,
                    fix="correct the value or delete that line")
            col = col.cast(typ)
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _seconds(path: Path, text: pa.Array, first_line: int) -> pa.Array:
    """``my_last_updated`` as seconds since 1970 (null where missing), from either form.

    Example
    -------
    >>> _seconds(Path("x.csv"), pa.array(["1362307973", "2013-03-03 10:52:53", "0000-00-00 00:00:00", ""]), 2).to_pylist()
    [1362307973, 1362307973, None, None]
    """
    missing = pc.or_kleene(pc.is_null(text), pc.is_in(text, value_set=pa.array(NULLS)))
    number = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
    none = pa.scalar(None, pa.string())
    seconds = pc.cast(pc.if_else(number, text, none), pa.float64())
    parsed = pc.strptime(pc.if_else(number, none, pc.if_else(missing, none, text)),
                         format=_DATE_TIME, unit="s", error_is_null=True)
    both = pc.coalesce(seconds, pc.cast(pc.cast(parsed, pa.int64()), pa.float64()))
    bad = pc.and_(pc.invert(missing), pc.is_null(both)).to_numpy(zero_copy_only=False)
    x = both.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        bad |= ~np.isnan(x) & (x != np.floor(x))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            path, f"my_last_updated is neither Unix seconds nor a date-time like "
            f"2013-03-03 10:52:53: {text[row].as_py()!r}", line=first_line + row,
            column="my_last_updated", fix="correct the value or delete that line")
    return pc.cast(both, pa.int64())


def _malformed(path: Path, header: list[str], invalid) -> DataFormatError:
    number, expected, actual, text = invalid[0]
    if number is None:  # the multi-threaded reader does not know line numbers
        number = _find_line(path, text, len(header))
    return DataFormatError(
        path, f"malformed line: {actual} fields instead of {expected} ({', '.join(header)}): "
        f"{text[:100]!r}", line=number, fix="repair or delete that line")


def _find_line(path: Path, text: str, n_fields: int) -> int | None:
    """Locate a malformed line by re-reading the file single-threaded."""
    found: list[int] = []

    def on_invalid(row) -> str:
        if row.text == text and not found:
            found.append(row.number)
        return "skip"

    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(use_threads=False),
                            parse_options=pacsv.ParseOptions(ignore_empty_lines=False,
                                                              invalid_row_handler=on_invalid),
                            convert_options=pacsv.ConvertOptions(include_columns=[],
                                                                 include_missing_columns=False))
    for _ in reader:
        if found:
            break
    return found[0] if found else None


def _diagnose_lists(path: Path, cols: list[str], types: dict[str, pa.DataType],
                    exc: Exception) -> DataFormatError:
    """Find the line and column of a value that failed to convert."""
    match = re.search(r"column #(\d+)", str(exc))
    suspects = cols
    if match:
        header = read_header(path)
        idx = int(match.group(1))
        if idx < len(header) and header[idx] in cols:
            suspects = [header[idx]]
    suspects = [c for c in suspects if types[c] != pa.string() and c != "my_last_updated"]
    reader = pacsv.open_csv(
        path, read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=pacsv.ParseOptions(ignore_empty_lines=False, invalid_row_handler=lambda r: "skip"),
        convert_options=pacsv.ConvertOptions(include_columns=suspects,
                                             column_types={c: pa.string() for c in suspects},
                                             strings_can_be_null=False))
    row0 = 0
    last_text = last_line_if_unterminated(path)
    for batch in reader:
        for col in suspects:
            values = batch.column(col)
            typ = types[col]
            ok = pc.or_(pc.match_substring_regex(values, _NUMBER), pc.is_in(values, pa.array(NULLS)))
            kind = "an integer"
            okn = ok.to_numpy(zero_copy_only=False)
            if not okn.all():
                row = int(np.flatnonzero(~okn)[0])
                value = values[row].as_py()
                line = row0 + row + 2
                if _INT.match(value or "") and not pa.types.is_timestamp(typ):
                    reason = f"{col} value {value!r} is out of range for {typ}"
                else:
                    reason = f"{col} is not {kind}: {value!r}"
                if col == "my_score":
                    reason += " (my_score must be an integer 0–10, 0 meaning 'not scored')"
                fix = "correct the value or delete that line"
                if last_text is not None and row0 + row == _count_rows(path) - 1:
                    reason += "; the file ends without a line break here, so it looks truncated"
                    fix = "the download or unzip was interrupted; get the file again"
                return DataFormatError(path, reason, line=line, column=col, fix=fix)
        row0 += batch.num_rows
    return DataFormatError(path, f"cannot parse the file: {exc}", fix="compare it with the original file")


def _count_rows(path: Path) -> int:
    count = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            count += block.count(b"\n")
    return count + (0 if _tail(path, 1) == b"\n" else 1) - 1  # minus the header
