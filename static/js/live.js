/*
 * The live operations board (/committee/live/): asks /api/v1/live/ again every poll interval
 * and redraws the figures, the tables and the district map in place, without a reload.
 *
 * The first figures come with the page (a JSON script element), so nothing waits for the first
 * poll. Words come translated from the page: the labels in #live-labels. Same origin only: the
 * session cookie authenticates the poll. A failed poll keeps the last figures and says so.
 */
(function () {
  "use strict";

  var root = document.getElementById("live-board");
  if (!root) {
    return;
  }
  var labels = JSON.parse(document.getElementById("live-labels").textContent);
  var source = root.dataset.source;
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined) {
      node.textContent = String(text);
    }
    return node;
  }

  function clock(iso) {
    var moment = new Date(iso);
    var hh = String(moment.getHours()).padStart(2, "0");
    var mm = String(moment.getMinutes()).padStart(2, "0");
    return hh + ":" + mm;
  }

  function rate(part, whole) {
    return whole ? Math.round((100 * part) / whole) : 0;
  }

  function level(part, whole) {
    if (!whole) {
      return "none";
    }
    var share = part / whole;
    return share >= 0.9 ? "good" : share >= 0.7 ? "fair" : "poor";
  }

  function fill(container, rows, empty) {
    container.replaceChildren.apply(container, rows.length ? rows : [el("p", { class: "empty" }, empty)]);
  }

  function drawTotals(totals) {
    root.querySelectorAll("[data-total]").forEach(function (node) {
      node.textContent = totals[node.dataset.total];
    });
  }

  function drawMap(districts) {
    var map = root.querySelector("[data-live=map]");
    var items = [];
    var biggest = Math.max.apply(null, districts.map(function (d) { return d.expected; }).concat([1]));
    districts.forEach(function (district) {
      var radius = 30 + 30 * Math.sqrt(district.expected / biggest);
      var group = svg("g", { class: "district level-" + level(district.checked_in, district.expected), "data-district": district.code });
      group.appendChild(svg("circle", { cx: district.x, cy: district.y, r: radius.toFixed(1) }));
      group.appendChild(svg("text", { x: district.x, y: district.y - 4, "text-anchor": "middle", class: "name" }, district.name));
      group.appendChild(svg("text", { x: district.x, y: district.y + 20, "text-anchor": "middle", class: "figure" }, district.checked_in + "/" + district.expected));
      group.appendChild(svg("title", {}, district.name + ": " + labels.checked_in + " " + district.checked_in + ", " + labels.expected + " " + district.expected));
      items.push(group);
    });
    map.replaceChildren.apply(map, items);
  }

  function row(cells, cls) {
    var tr = el("tr", cls ? { class: cls } : {});
    cells.forEach(function (cell) {
      tr.appendChild(el("td", {}, cell));
    });
    return tr;
  }

  function drawDistricts(districts) {
    var body = root.querySelector("[data-live=districts]");
    body.replaceChildren.apply(body, districts.filter(function (d) { return d.expected; }).map(function (d) {
      return row([d.name, d.checked_in + " / " + d.expected, rate(d.checked_in, d.expected) + "%", d.on_duty], "level-" + level(d.checked_in, d.expected));
    }));
  }

  function drawCommunities(communities) {
    var body = root.querySelector("[data-live=communities]");
    body.replaceChildren.apply(body, communities.slice(0, 30).map(function (c) {
      return row([c.name, c.checked_in + " / " + c.expected, rate(c.checked_in, c.expected) + "%", c.on_duty], "level-" + level(c.checked_in, c.expected));
    }));
  }

  function drawMissing(missing) {
    fill(root.querySelector("[data-live=missing]"), missing.map(function (shift) {
      var item = el("li", { class: "card" });
      item.appendChild(el("strong", {}, shift.community + " · " + shift.post + " · " + clock(shift.starts_at)));
      item.appendChild(el("span", { class: "meta" }, " " + labels.missing + " " + shift.missing + " / " + shift.expected));
      shift.leaders.forEach(function (leader) {
        var line = el("div", { class: "leader" }, labels.call + " " + leader.name + " (" + leader.team + ") ");
        if (leader.mobile && leader.mobile.indexOf("*") === -1) {
          line.appendChild(el("a", { href: "tel:" + leader.mobile }, leader.mobile));
        } else {
          line.appendChild(el("span", {}, leader.mobile));
        }
        item.appendChild(line);
      });
      return item;
    }), labels.none_missing);
  }

  function drawRequests(requests) {
    fill(root.querySelector("[data-live=requests]"), requests.map(function (request) {
      var item = el("li", { class: "card urgency-" + request.urgency });
      item.appendChild(el("strong", {}, request.community));
      item.appendChild(el("span", { class: "meta" }, " " + request.district + " · " + request.urgency_label + " · " + labels.missing + " " + request.missing + " / " + request.wanted));
      return item;
    }), labels.no_requests);
  }

  function draw(board) {
    drawTotals(board.totals);
    drawMap(board.districts);
    drawDistricts(board.districts);
    drawCommunities(board.communities);
    drawMissing(board.missing);
    drawRequests(board.requests);
    root.querySelector("[data-live=updated]").textContent = labels.updated + " " + clock(board.at);
    root.querySelector("[data-live=status]").textContent = "";
    root.dataset.updatedAt = board.at;
  }

  function poll() {
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error(String(answer.status));
        }
        return answer.json();
      })
      .then(draw)
      .catch(function () {
        root.querySelector("[data-live=status]").textContent = labels.stale;
      });
  }

  var first = JSON.parse(document.getElementById("live-data").textContent);
  draw(first);
  var seconds = Number(root.dataset.pollSeconds) || first.poll_seconds || 15;
  window.setInterval(poll, seconds * 1000);
})();
