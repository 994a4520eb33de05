// Sortable tables: a click on a header button of a table.sortable sorts its body rows by that column.
// Numeric columns (th data-type="number") sort by each cell's data-sort-value ("Infinity" sorts after
// every number; an empty value always sorts last). The sort is stable.
(function () {
  "use strict";

  function cellKey(cell, numeric) {
    var raw = cell.getAttribute("data-sort-value");
    if (raw === null) {
      raw = cell.textContent.trim();
    }
    if (!numeric) {
      return raw.toLowerCase();
    }
    if (raw === "") {
      return null;
    }
    var n = Number(raw);
    return isNaN(n) ? null : n;
  }

  function sortTable(table, headers, index) {
    var th = headers[index];
    var numeric = th.getAttribute("data-type") === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a.cells[index], numeric);
      var y = cellKey(b.cells[index], numeric);
      if (x === null || y === null) {
        return x === y ? 0 : (x === null ? 1 : -1);
      }
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  // A table wider than its scroll box gets a line above it saying so, and the box a shadow at its edge.
  function markOverflow() {
    Array.prototype.forEach.call(document.querySelectorAll(".scroll"), function (box) {
      var wide = box.scrollWidth > box.clientWidth + 1;
      var hint = box.previousElementSibling;
      var has = hint !== null && hint.classList.contains("scroll-hint");
      box.classList.toggle("overflowing", wide);
      if (wide && !has) {
        hint = document.createElement("p");
        hint.className = "scroll-hint";
        hint.textContent = "Wider than the screen: scroll the table sideways \u2192";
        box.parentNode.insertBefore(hint, box);
      } else if (!wide && has) {
        hint.remove();
      }
    });
  }
  markOverflow();
  window.addEventListener("resize", markOverflow);

  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    if (!table.tHead || !table.tBodies.length) {
      return;
    }
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (th, index) {
      var button = th.querySelector("button");
      if (button) {
        button.addEventListener("click", function () { sortTable(table, headers, index); });
      }
    });
  });
}());
