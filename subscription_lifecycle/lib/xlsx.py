"""Spreadsheet export: rows in, .xlsx bytes out (xlsxwriter, no ORM)."""

import io

import xlsxwriter


def build_workbook(sheet_name, columns, rows, totals):
    """Return the bytes of a one-sheet workbook.

    :param columns: ``[(title, kind), ...]`` with kind in ``text``, ``date``,
        ``number`` or ``money``
    :param rows: lists of cell values in column order (dates as ``date``)
    :param totals: ``[(label, {column_index: value}), ...]`` written in bold
        under the rows, e.g. one line per currency
    """
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet(sheet_name[:31])
    bold = workbook.add_format({"bold": True})
    formats = {
        "text": None,
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "number": workbook.add_format({"num_format": "#,##0.00"}),
        "money": workbook.add_format({"num_format": "#,##0.00"}),
    }
    total_format = workbook.add_format({"bold": True, "num_format": "#,##0.00"})
    for col, (title, kind) in enumerate(columns):
        sheet.write(0, col, title, bold)
        sheet.set_column(col, col, 14 if kind != "text" else 28)
    for row_index, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if value in (None, False):
                continue
            kind = columns[col][1]
            if kind == "date":
                sheet.write_datetime(row_index, col, value, formats["date"])
            else:
                sheet.write(row_index, col, value, formats[kind])
    row_index = len(rows) + 2
    for label, values in totals:
        sheet.write(row_index, 0, label, bold)
        for col, value in values.items():
            sheet.write(row_index, col, value, total_format)
        row_index += 1
    sheet.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()
