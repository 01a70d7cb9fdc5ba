(function () {
  "use strict";
  var ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
  function esc(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
      return ESC[c];
    });
  }
  function num(x, d) {
    if (x === null || x === undefined || !isFinite(x)) { return "\u2013"; }
    d = d || 0;
    return Number(x).toLocaleString("en-GB", {minimumFractionDigits: d, maximumFractionDigits: d});
  }
  function pct(x) {
    return (x === null || x === undefined || !isFinite(x)) ? "\u2013" : Math.round(100 * x) + "%";
  }
  /* Where a PCN's journeys start (pcn_summary.csv travel_weighting). */
  var TRAVEL_FROM = {patients: "Travel (from patients' homes)",
    population: "Travel (from residents' homes)"};
  function ratio(used, cap) { return cap > 0 ? used / cap : null; }
  function swatch(colour, shape) {
    return '<i class="eo-sw eo-sw-' + (shape || "box") + '" style="background:' + esc(colour) +
      '"></i>';
  }
  function lineSwatch(colour, dash, width) {
    return '<svg class="eo-line" width="34" height="10"><line x1="2" y1="5" x2="32" y2="5" ' +
      'stroke="' + esc(colour) + '" stroke-width="' + (width || 3) + '" stroke-dasharray="' +
      esc(dash || "") + '" stroke-linecap="round"/></svg>';
  }
  function flowWeight(hours) { return Math.min(1 + Math.sqrt(hours) / 2.2, 9); }
  function pane(map, name, z) {
    if (!map.getPane(name)) { map.createPane(name).style.zIndex = String(z); }
    return name;
  }

  /* Room kept clear of the controls when a popup opens: updated in place from the controls'
     real sizes (Leaflet reads these arrays each time it pans a popup into view). */
  var PAD_TOP_LEFT = [50, 60], PAD_BOTTOM_RIGHT = [20, 20];
  function wide(map) { var s = map.getSize(); return s.x >= 900 && s.y >= 600; }

  function draw(map, D, G) {
    var S = D.style;
    var state = {mode: "after", shading: D.shading ? D.shading[0].key : null};
    pane(map, "eoAreas", 350);
    pane(map, "eoBase", 360);
    pane(map, "eoBorders", 380);
    pane(map, "eoBaseLabels", 440);
    pane(map, "eoFlows", 420);
    pane(map, "eoSites", 450);
    pane(map, "eoLabels", 460);
    map.getPane("eoBorders").style.pointerEvents = "none";
    map.getPane("eoLabels").style.pointerEvents = "none";
    map.getPane("eoBase").style.pointerEvents = "none";
    map.getPane("eoBaseLabels").style.pointerEvents = "none";

    /* --- buildings ------------------------------------------------------ */
    var markers = [];
    var bandsOn = function () {
      var on = {};
      D.bands.forEach(function (b) { on[b] = !G.bands[b] || map.hasLayer(G.bands[b]); });
      return on;
    };
    function useOf(site, on, mode) {
      var cap = 0, used = 0;
      Object.keys(site.use).forEach(function (b) {
        if (!on[b]) { return; }
        cap += site.use[b][0];
        used += site.use[b][mode === "before" ? 1 : 2];
      });
      return {cap: cap, used: used, u: ratio(used, cap)};
    }
    function kindLabel(k) { return (S.kinds[k] || [k])[0]; }
    function siteTooltip(site) {
      var on = bandsOn(), b = useOf(site, on, "before"), a = useOf(site, on, "after");
      return "<b>" + esc(site.name) + "</b><br>" + esc(kindLabel(site.kind)) +
        (site.pcn ? " \u00b7 " + esc(site.pcn) : "") +
        "<br>rooms booked (shown bands): " + pct(b.u) + " \u2192 " + pct(a.u);
    }
    function sitePopup(site) {
      var all = {}, h = [];
      D.bands.forEach(function (b) { all[b] = true; });
      var b = useOf(site, all, "before"), a = useOf(site, all, "after");
      h.push('<div class="eo-pop"><h3>' + esc(site.name) + "</h3>");
      h.push('<div class="eo-sub">' + esc(kindLabel(site.kind)) + " \u00b7 " + esc(site.id) +
        (site.pcn ? " \u00b7 " + esc(site.pcn) : "") +
        (site.borough ? " \u00b7 " + esc(site.borough) : "") + "</div>");
      h.push("<p>Rooms booked, all bands: <b>" + pct(b.u) + "</b> today \u2192 <b>" + pct(a.u) +
        "</b> with the plan (" + num(a.cap) + " room-hours a week).</p>");
      if (site.rows.length) {
        h.push('<table class="eo-tt"><thead><tr><th>Band</th><th>Room</th>' +
          '<th title="room-hours per week">Capacity</th><th title="fixed, immovable use">Fixed</th>' +
          "<th>Before</th><th>After</th><th>Booked</th></tr></thead><tbody>");
        var last = null;
        site.rows.forEach(function (r) {
          var band = r[0] === last ? "" : esc((S.bandLabels[r[0]] || r[0]).split(" (")[0]) +
            (r[6] ? ' <span class="eo-opened">opened by plan</span>' : "");
          last = r[0];
          h.push("<tr" + (band ? ' class="eo-band-start"' : "") + "><td>" + band + "</td><td>" +
            esc(r[1]) + "</td><td>" + num(r[2], 1) + "</td><td>" + num(r[3], 1) + "</td><td>" +
            num(r[4], 1) + "</td><td>" + num(r[5], 1) + "</td><td>" + pct(ratio(r[4], r[2])) +
            " \u2192 " + pct(ratio(r[5], r[2])) + "</td></tr>");
        });
        h.push('</tbody></table><div class="eo-note">Room-hours per week. Fixed = work that ' +
          "stays (practice lists, inpatients); before/after include it." +
          '<span class="eo-phone-note">Capacity, fixed and before: on a wider screen or ' +
          "in the workbook.</span></div>");
      } else {
        h.push("<p>No bookable rooms in the plan.</p>");
      }
      h.push("<h4>Services here after the plan</h4>");
      if (site.hosts.length) {
        h.push('<ul class="eo-hosts">');
        site.hosts.forEach(function (s) {
          h.push("<li><b>" + esc(s[0]) + "</b>: " + s[1].map(function (p) {
            return esc(p[0]) + " (" + num(p[1], 1) + " h)";
          }).join(", ") + "</li>");
        });
        h.push("</ul>");
      } else {
        h.push("<p>None of the movable services.</p>");
      }
      return h.join("") + "</div>";
    }
    /* Wide enough for the whole rooms table ("Booked" included) where the map allows. */
    var popupWidth = Math.max(220, Math.min(620, map.getSize().x - 70));
    /* Tall enough to read, short enough to fit between the controls over a phone's map
       (the search box and buttons above, the legend and attribution below). */
    var popupHeight = wide(map) ? 380 : Math.max(160, Math.min(380, map.getSize().y - 340));
    D.sites.forEach(function (site, i) {
      var ll = [site.lat, site.lon], R = site.r + 3;
      var track = L.circleMarker(ll, {pane: "eoSites", radius: R, fill: false, weight: 3,
        color: "#b8b8b8", opacity: 0.9, interactive: false, className: "eo-gauge-track"});
      var gauge = L.circleMarker(ll, {pane: "eoSites", radius: R, fill: false, weight: 3,
        color: S.gauge.ok, opacity: 1, interactive: false, lineCap: "butt",
        className: "eo-gauge"});
      var dot = L.circleMarker(ll, {pane: "eoSites", radius: site.r, weight: 1, color: "#ffffff",
        fillColor: (S.kinds[site.kind] || ["", "#999"])[1], fillOpacity: 0.95,
        className: "eo-site eo-kind-" + site.kind});
      dot.bindTooltip(function () { return siteTooltip(site); }, {direction: "top", offset: [0, -R]});
      dot.bindPopup(function () { return sitePopup(site); }, {maxWidth: popupWidth, minWidth:
        Math.min(320, popupWidth),
        maxHeight: popupHeight, autoPanPaddingTopLeft: PAD_TOP_LEFT,
        autoPanPaddingBottomRight: PAD_BOTTOM_RIGHT});
      if (site.label) {
        dot.unbindTooltip();
        dot.bindTooltip(esc(site.label), {permanent: true, direction: "right",
          offset: [R + 2, 0], className: "eo-hub-label"});
      }
      G.sites.addLayer(track).addLayer(gauge).addLayer(dot);
      markers.push({site: site, track: track, gauge: gauge, dot: dot, R: R});
    });
    function restyleSites() {
      var on = bandsOn();
      markers.forEach(function (m) {
        var x = useOf(m.site, on, state.mode), C = 2 * Math.PI * m.R;
        if (x.u === null) {
          m.track.setStyle({dashArray: "2 3", opacity: 0.7});
          m.gauge.setStyle({opacity: 0});
          m.dot.setStyle({fillOpacity: 0.3});
          return;
        }
        var over = x.u > 1.0005;
        m.track.setStyle({dashArray: null, opacity: 0.9});
        m.gauge.setStyle({opacity: 1, color: over ? S.gauge.over : S.gauge.ok,
          dashArray: (Math.min(x.u, 1) * C).toFixed(2) + " " + (C + 1).toFixed(2)});
        m.dot.setStyle({fillOpacity: 0.95});
      });
    }

    /* --- catchments ----------------------------------------------------- */
    function pcnPopup(p) {
      var h = ['<div class="eo-pop"><h3>' + esc(p.name) + "</h3>",
        '<div class="eo-sub">PCN ' + esc(p.code) + (p.borough ? " \u00b7 " + esc(p.borough) : "") +
        "</div><table class=\"eo-kv\">",
        "<tr><th>Population (LSOAs)</th><td>" + num(p.population) + "</td></tr>",
        "<tr><th>Registered patients</th><td>" + num(p.registered) + "</td></tr>",
        "<tr><th>Demand</th><td>" + num(p.demand, 1) + " h/week</td></tr>",
        "<tr><th>Unmet</th><td>" + num(p.unmet, 1) + " h/week</td></tr>",
        "<tr><th>Hours moved</th><td>" + num(p.moved, 1) + " h/week</td></tr>",
        "<tr><th>" + (TRAVEL_FROM[p.travelWeighting] || "Travel") + "</th><td>" +
          num(p.travelBefore, 2) + " \u2192 " +
          num(p.travelAfter, 2) + " km</td></tr>",
        "<tr><th>Enhanced access met</th><td>" + num(p.eaMet, 1) + " of " + num(p.eaDemand, 1) +
          " h/week</td></tr></table>"];
      if (p.href) {
        h.push('<p><a href="' + esc(p.href) + '">Open the hub map for this PCN</a></p>');
      }
      return h.join("") + "</div>";
    }
    function pcnTooltip(p) {
      var key = state.shading, extra = "";
      if (key === "population") { extra = num(p.population) + " people"; }
      if (key === "unmet") { extra = num(p.unmet, 1) + " h/week unmet"; }
      if (key === "travel") {
        extra = "travel " + num(p.travelBefore, 2) + " \u2192 " + num(p.travelAfter, 2) + " km";
      }
      return "<b>" + esc(p.name) + "</b>" + (extra ? "<br>" + extra : "");
    }
    if (D.shading && G.shading) {
      D.shading.forEach(function (s) {
        L.geoJSON(D.areas, {
          pane: "eoAreas",
          style: function (f) {
            return {fillColor: f.properties.fill[s.key], fillOpacity: 0.62, color: "#6b6b6b",
              weight: 0.8};
          },
          onEachFeature: function (f, layer) {
            var p = D.pcns[f.properties.i];
            layer.bindTooltip(function () { return pcnTooltip(p); }, {sticky: true});
            layer.bindPopup(function () { return pcnPopup(p); }, {maxWidth: 360});
          }
        }).addTo(G.shading[s.key]);
      });
      if (G.outlines) {
        L.geoJSON(D.areas, {pane: "eoAreas", style: {fillColor: "#ffffff", fillOpacity: 0.01,
          color: "#6b6b6b", weight: 0.8},
          onEachFeature: function (f, layer) {
            var p = D.pcns[f.properties.i];
            layer.bindTooltip("<b>" + esc(p.name) + "</b>", {sticky: true});
            layer.bindPopup(function () { return pcnPopup(p); }, {maxWidth: 360});
          }}).addTo(G.outlines);
      }
      map.on("baselayerchange", function (e) {
        state.shading = null;
        Object.keys(G.shading).forEach(function (k) { if (G.shading[k] === e.layer) { state.shading = k; } });
        legend.update();
      });
      Object.keys(G.shading).forEach(function (k) {
        if (map.hasLayer(G.shading[k])) { state.shading = k; }
      });
    }
    var boroughLabels = [];
    if (D.boroughs && G.boroughs) {
      L.geoJSON(D.boroughs, {pane: "eoBorders", interactive: false,
        style: D.page === "hub" ?
          {color: "#4a4a4a", weight: 1.6, opacity: 0.8, dashArray: "8 5", fill: false} :
          {color: "#3a3a3a", weight: 2.2, opacity: 0.8, fill: false}}).addTo(G.boroughs);
      /* The name sits in a span that centres it on its point: Leaflet positions the icon
         with its own transform, which replaced one in the class (names ran right of it). */
      boroughLabels = (D.boroughLabels || []).map(function (b) {
        var marker = L.marker([b[1], b[2]], {pane: "eoLabels", interactive: false,
          keyboard: false,
          icon: L.divIcon({className: "eo-borough-label", html: "<span>" + esc(b[0]) + "</span>",
            iconSize: null})
        }).addTo(G.boroughs);
        return {marker: marker, small: b[3] < 10, area: b[3]};
      });
      /* Small boroughs (the City) are labelled only when zoomed in, so labels do not collide. */
      var showLabels = function () {
        boroughLabels.forEach(function (x) {
          var el = x.marker.getElement();
          if (el) { el.style.display = x.small && map.getZoom() < 12.5 ? "none" : ""; }
        });
        declutter();
      };
      map.on("zoomend moveend", showLabels);
      G.boroughs.on("add", showLabels);
      showLabels();
    }
    /* --- basemap: a sense of place, muted, beneath the data ------------- */
    var B = D.basemap || {};
    if (G.background) {
      if (B.water) {
        L.geoJSON(B.water, {pane: "eoBase", interactive: false, style: function (f) {
          return f.properties.shape === "area" ?
            {stroke: false, fillColor: "#a6cbe3", fillOpacity: 0.9} :
            {color: "#8dbcdc", weight: f.properties.kind === "canal" ? 1.4 : 2, opacity: 0.9,
              fill: false};
        }}).addTo(G.background);
      }
      if (B.roads) {
        L.geoJSON(B.roads, {pane: "eoBase", interactive: false, style: function (f) {
          return {color: f.properties.major ? "#b58b4c" : "#c9ab7c", opacity: 0.75,
            weight: f.properties.major ? 2.6 : 1.6, fill: false, lineCap: "round"};
        }}).addTo(G.background);
      }
      if (B.rail) {
        L.geoJSON(B.rail, {pane: "eoBase", interactive: false, style: function (f) {
          return {color: "#5f5f5f", opacity: 0.65, weight: f.properties.rail_type === "rail" ?
            1.4 : 1, dashArray: f.properties.rail_type === "subway" ? "2 3" : null, fill: false};
        }}).addTo(G.background);
      }
    }
    /* Labels that would crowd the whole-ICS view appear as the reader zooms in. */
    var zoomed = [];
    /* A hub page shows one PCN's few square miles: its towns are named from a wider view. */
    var townZoom = D.page === "hub" ? 12 : 12.5;
    function byZoom(layer, minZoom) { zoomed.push([layer, minZoom]); return layer; }
    if (B.stations && G.stations) {
      L.geoJSON(B.stations, {pane: "eoBaseLabels", interactive: false,
        pointToLayer: function (f, ll) {
          var group = L.layerGroup([L.circleMarker(ll, {pane: "eoBaseLabels", radius: 2.6,
            color: "#555", weight: 1, fillColor: "#fff", fillOpacity: 1, interactive: false})]);
          group.addLayer(byZoom(L.marker(ll, {pane: "eoBaseLabels", interactive: false,
            keyboard: false, icon: L.divIcon({className: "eo-station-label",
              html: "<span>" + esc(f.properties.name) + "</span>", iconSize: null})}), 14));
          return byZoom(group, 12);
        }}).addTo(G.stations);
    }
    if (B.places && G.places) {
      L.geoJSON(B.places, {pane: "eoBaseLabels", interactive: false,
        pointToLayer: function (f, ll) {
          var rank = f.properties.rank || 0;
          return byZoom(L.marker(ll, {pane: "eoBaseLabels", interactive: false, keyboard: false,
            icon: L.divIcon({className: "eo-place-label" + (rank === 0 ? " eo-place-major" : ""),
              html: "<span>" + esc(f.properties.name) + "</span>", iconSize: null})}),
            rank === 0 ? 0 : townZoom);
        }}).addTo(G.places);
    }
    function showByZoom() {
      var z = map.getZoom();
      zoomed.forEach(function (x) {
        var layer = x[0], on = z >= x[1];
        var els = [];
        if (layer.getElement) { els.push(layer.getElement()); }
        if (layer.eachLayer) {
          layer.eachLayer(function (l) { if (l.getElement && !(l instanceof L.Marker)) {
            els.push(l.getElement()); } });
        }
        els.forEach(function (el) { if (el) { el.style.display = on ? "" : "none"; } });
      });
    }
    map.on("zoomend", showByZoom);
    ["stations", "places"].forEach(function (k) { if (G[k]) { G[k].on("add", showByZoom); } });

    if (D.lsoas && G.lsoas) {
      L.geoJSON(D.lsoas, {pane: "eoAreas",
        style: function (f) {
          return {fillColor: f.properties.fill, fillOpacity: 0.6, color: "#ffffff", weight: 0.6};
        },
        onEachFeature: function (f, layer) {
          var q = f.properties;
          layer.bindTooltip("<b>" + esc(q.name || q.code) + "</b> " + esc(q.name ? q.code : "") +
            "<br>" + num(q.population) + " people \u00b7 IMD decile " + esc(q.imd), {sticky: true});
        }}).addTo(G.lsoas);
    }
    if (D.catchment && G.catchment) {
      /* Neighbouring catchments: faint outlines, named on hover. */
      L.geoJSON(D.neighbours, {pane: "eoAreas",
        style: {color: "#8a8a8a", weight: 1, dashArray: "4 4", fillColor: "#ffffff",
          fillOpacity: 0.01},
        onEachFeature: function (f, layer) {
          layer.bindTooltip(esc(f.properties.name) + " (neighbouring PCN)", {sticky: true});
        }}).addTo(G.catchment);
      L.geoJSON(D.catchment, {pane: "eoBorders", interactive: false,
        style: {color: "#111111", weight: 3, fill: false, className: "eo-catchment"}})
        .addTo(G.catchment);
    }

    /* --- flows ---------------------------------------------------------- */
    var flows = D.flows.map(function (f) {
      var p = D.pcns[f[0]], s = D.sites[f[1]], cat = S.categories[f[2]] || [f[2], "#555", ""];
      var line = L.polyline([[p.lat, p.lon], [s.lat, s.lon]], {pane: "eoFlows", color: cat[1],
        weight: flowWeight(f[5]), opacity: 0.6, dashArray: cat[2] || null, lineCap: "round",
        className: "eo-flow"});
      line.bindTooltip(function () {
        var verb = D.page === "plan" ? (f[4] === "after" ? "moves in to " : "moves out of ") :
          (f[4] === "after" ? "uses, with the plan, " : "uses today ");
        return "<b>" + esc(p.name) + "</b> " + verb + "<b>" + esc(s.name) + "</b><br>" +
          esc(cat[0]) + ", " + esc((S.bandLabels[f[3]] || f[3]).split(" (")[0].toLowerCase()) +
          ": " + num(f[5], 1) + " h/week (" + num(f[5] / (S.sessionHours[f[3]] || 4), 1) +
          " sessions)";
      }, {sticky: true});
      return {cat: f[2], band: f[3], mode: f[4], line: line};
    });
    function refreshFlows() {
      var on = bandsOn();
      Object.keys(G.flows).forEach(function (k) { G.flows[k].clearLayers(); });
      flows.forEach(function (f) {
        if (f.mode === state.mode && on[f.band] && G.flows[f.cat]) { G.flows[f.cat].addLayer(f.line); }
      });
    }

    /* --- controls ------------------------------------------------------- */
    var legend = L.control({position: "bottomright"});
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "eo-legend leaflet-bar");
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      this._div = div;
      this.update();
      return div;
    };
    legend.update = function () {
      if (!this._div) { return; }
      var h = ['<details' + (legendOpen ? " open" : "") + "><summary>Legend</summary>"];
      var key = null;
      if (D.shading) {
        D.shading.forEach(function (s) { if (s.key === state.shading) { key = s.legend; } });
      }
      if (D.imdLegend) { key = D.imdLegend; }
      if (key) {
        h.push('<div class="eo-lg-title">' + esc(key.title) + "</div>");
        if (key.ramp) {
          /* A long ordered key (IMD deciles) as one strip of swatches, ends labelled. */
          h.push('<div class="eo-ramp">' + key.items.map(function (it, i) {
            return '<i style="background:' + esc(it[0]) + '" title="' + esc(it[1]) + '">' +
              (i + 1) + "</i>";
          }).join("") + '</div><div class="eo-ramp-ends"><span>' + esc(key.ramp[0]) +
            "</span><span>" + esc(key.ramp[1]) + "</span></div>");
        } else {
          key.items.forEach(function (it) {
            h.push("<div>" + swatch(it[0]) + esc(it[1]) + "</div>");
          });
        }
      }
      h.push('<div class="eo-lg-title">Buildings (colour = kind)</div><div class="eo-lg-kinds">');
      Object.keys(S.kinds).forEach(function (k) {
        h.push("<span>" + swatch(S.kinds[k][1], "dot") + esc(S.kinds[k][0]) + "</span>");
      });
      h.push('</div><div class="eo-lg-sizes">Size = room-hours a week:<br>');
      S.sizes.forEach(function (s) {
        h.push('<svg width="' + (2 * s[1] + 4) + '" height="' + (2 * s[1] + 4) + '"><circle cx="' +
          (s[1] + 2) + '" cy="' + (s[1] + 2) + '" r="' + s[1] + '" fill="#cccccc" stroke="#777"/></svg>' +
          num(s[0]) + " ");
      });
      h.push('</div><div class="eo-lg-gauge">' + gaugeSwatch(0.4, S.gauge.ok) + "40% " +
        gaugeSwatch(1, S.gauge.ok) + "full " + gaugeSwatch(1, S.gauge.over) +
        "over capacity<br><small>ring = share of room-hours booked, " +
        (state.mode === "before" ? "<b>today</b>" : "<b>after the plan</b>") +
        ", shown bands</small></div>");
      h.push('<div class="eo-lg-title">' + (D.page === "plan" ?
        (state.mode === "after" ? "Hours moving in (catchment \u2192 building)" :
          "Hours moving out (catchment \u2192 old building)") :
        (state.mode === "after" ? "Where services run with the plan" :
          "Where services run today")) + "</div>");
      Object.keys(S.categories).forEach(function (k) {
        var c = S.categories[k];
        h.push("<div>" + lineSwatch(c[1], c[2]) + esc(c[0]) + "</div>");
      });
      h.push("<small>line width = hours per week</small></details>");
      this._div.innerHTML = h.join("");
    };
    function gaugeSwatch(u, colour) {
      var r = 6, C = 2 * Math.PI * r;
      return '<svg width="18" height="18" class="eo-gauge-sw"><circle cx="9" cy="9" r="6" fill="none" ' +
        'stroke="#b8b8b8" stroke-width="3"/><circle cx="9" cy="9" r="6" fill="none" stroke="' +
        colour + '" stroke-width="3" stroke-dasharray="' + (u * C).toFixed(2) + " " +
        (C + 1).toFixed(2) + '" transform="rotate(-90 9 9)"/></svg>';
    }
    /* Open on a big screen; folded on a phone or a small window, where it would hide the map
       (the hub's label at 1024x768). The reader's choice is kept when the legend redraws. */
    var legendOpen = wide(map);
    legend.addTo(map);
    legend.getContainer().addEventListener("toggle", function (e) {
      if (e.target.tagName === "DETAILS") { legendOpen = e.target.open; }
    }, true);
    /* A popup wider than the room beside the open legend (the rooms table) opened under
       it: the legend folds while the popup is open, and opens again when it closes. */
    var foldedFor = null;
    function foldUnder(popup) {
      var key = legend.getContainer(), d = key.querySelector("details");
      var el = popup.getElement(), box = el && el.querySelector(".leaflet-popup-content-wrapper");
      if (!d || !d.open || !box || !map.hasLayer(popup)) { return; }
      var a = box.getBoundingClientRect(), b = key.getBoundingClientRect();
      if (a.left < b.right && a.right > b.left && a.top < b.bottom && a.bottom > b.top) {
        d.open = false;
        foldedFor = popup;
      }
    }
    map.on("popupopen", function (e) {
      foldUnder(e.popup);
      map.once("moveend", function () { foldUnder(e.popup); });
      setTimeout(function () { foldUnder(e.popup); }, 300);
    });
    map.on("popupclose", function (e) {
      if (foldedFor !== e.popup) { return; }
      foldedFor = null;
      var d = legend.getContainer().querySelector("details");
      if (d) { d.open = true; }
    });

    var modeCtl = L.control({position: "topright"});
    modeCtl.onAdd = function () {
      var div = L.DomUtil.create("div", "eo-mode leaflet-bar");
      L.DomEvent.disableClickPropagation(div);
      div.innerHTML = '<span class="eo-mode-title">Show</span>' +
        '<label><input type="radio" name="eo-mode" value="before"> Before (today)</label>' +
        '<label><input type="radio" name="eo-mode" value="after" checked> After (plan)</label>';
      div.querySelectorAll("input").forEach(function (input) {
        input.addEventListener("change", function () {
          if (input.checked) { state.mode = input.value; refresh(); }
        });
      });
      return div;
    };
    modeCtl.addTo(map);
    var corner = modeCtl.getContainer().parentNode;
    corner.insertBefore(modeCtl.getContainer(), corner.firstChild);

    var search = L.control({position: "topleft"});
    search.onAdd = function () {
      var div = L.DomUtil.create("div", "eo-search leaflet-bar");
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      var input = L.DomUtil.create("input", "", div);
      var list = L.DomUtil.create("datalist", "", div);
      var note = L.DomUtil.create("div", "eo-search-note", div);
      list.id = "eo-search-list";
      input.setAttribute("list", list.id);
      input.type = "search";
      /* The whole hint does not fit a phone's box (it read "... building or P"). */
      input.placeholder = map.getSize().x < 500 ? "Find a building or PCN" :
        "Find a practice, building or PCN";
      input.setAttribute("aria-label", "Find a practice, building or PCN");
      var targets = {};
      function add(text, target) {
        if (targets[text]) { return; }
        targets[text] = target;
        var option = document.createElement("option");
        option.value = text;
        list.appendChild(option);
      }
      markers.forEach(function (m) {
        add(m.site.name + " \u2014 " + kindLabel(m.site.kind) + " " + m.site.id, {marker: m});
      });
      D.pcns.forEach(function (p) { add(p.name + " \u2014 PCN " + p.code, {pcn: p}); });
      var last = {text: null, at: 0};
      function go() {
        var text = input.value.trim(), t = targets[text], now = Date.now();
        /* Enter fires both "keydown" and "change": act once. */
        if (text === last.text && now - last.at < 400) { return; }
        last = {text: text, at: now};
        if (!t && text) {
          var low = text.toLowerCase();
          Object.keys(targets).some(function (k) {
            if (k.toLowerCase().indexOf(low) >= 0) { t = targets[k]; return true; }
            return false;
          });
        }
        note.textContent = t || !text ? "" : "No match";
        if (!t) { return; }
        if (t.marker) {
          if (!map.hasLayer(G.sites)) { map.addLayer(G.sites); }
          map.setView(t.marker.dot.getLatLng(), Math.max(map.getZoom(), 15), {animate: false});
          t.marker.dot.openPopup();
        } else {
          map.fitBounds(t.pcn.bounds);
          if (t.pcn.href && D.page === "plan") {
            L.popup().setLatLng([t.pcn.lat, t.pcn.lon]).setContent(pcnPopup(t.pcn)).openOn(map);
          }
        }
      }
      input.addEventListener("change", go);
      input.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
      return div;
    };
    search.addTo(map);

    if (D.attribution) {
      var lines = D.attribution.split(/\r?\n/).filter(function (x) { return x.trim(); });
      var first = lines.filter(function (x) { return /licen[cs]e/i.test(x); })[0] || lines[0];
      map.attributionControl.addAttribution('<details class="eo-attr"><summary>' + esc(first) +
        '</summary><div class="eo-attr-full">' + lines.map(esc).join("<br>") + "</div></details>");
      /* On paper the folded attribution cannot be opened: every line prints under the map. */
      var printed = document.createElement("div");
      printed.className = "eo-print-attr";
      printed.textContent = lines.join("\n");
      var box = map.getContainer();
      box.parentNode.insertBefore(printed, box.nextSibling);
    }

    function refresh() { restyleSites(); refreshFlows(); legend.update(); showByZoom(); }

    /* --- view: fit the area of interest, leaving room for the controls ---- */
    function cornerBox(v, h) {
      var el = map.getContainer().querySelector(".leaflet-" + v + ".leaflet-" + h);
      var r = {w: 0, h: 0};
      if (!el) { return r; }
      Array.prototype.forEach.call(el.children, function (c) {
        var b = c.getBoundingClientRect();
        r.w = Math.max(r.w, b.width + 10);
        r.h += b.height + 10;
      });
      return r;
    }
    function padControls() {
      var size = map.getSize(), tl = cornerBox("top", "left"), tr = cornerBox("top", "right");
      /* A popup opens above its building and below the search box and the top-right
         controls: never under them. */
      PAD_TOP_LEFT[0] = 10;
      PAD_TOP_LEFT[1] = Math.min(Math.max(tl.h, tr.h) + 8, Math.max(size.y / 3, 20));
      PAD_BOTTOM_RIGHT[0] = 10;
      /* ... and above the attribution (and on a phone the folded legend) at the foot. */
      PAD_BOTTOM_RIGHT[1] = wide(map) ? 24 : Math.min(cornerBox("bottom", "right").h + 4,
        Math.max(size.y / 4, 24));
      /* The attribution never runs over the scale bar. */
      var attribution = map.getContainer().querySelector(".leaflet-control-attribution");
      if (attribution) { attribution.style.maxWidth = Math.max(size.x - 140, 120) + "px"; }
    }
    var fitted = false, paper = null;
    function fitView() {
      if (!D.view) { return; }
      var size = map.getSize();
      if (size.x < 50 || size.y < 50) { return; }  /* not laid out (yet): nothing to fit */
      var right = 10, top = 10, bottom = 10;
      var key = legend.getContainer().getBoundingClientRect();
      /* A hub page's buildings at the edge of its area are drawn whole: a ring reaches R px
         out (the hospitals its outreach runs in printed half cut). The plan map's area is
         the ICS, whose edge buildings are small: the room is better spent on the map. */
      var ring = 0;
      if (D.page === "hub") { markers.forEach(function (m) { ring = Math.max(ring, m.R + 3); }); }
      ring = Math.min(ring, size.x / 10, size.y / 10);
      var attribution = map.getContainer().querySelector(".leaflet-control-attribution");
      if (paper) {
        /* On paper the legend is the only control: keep the area of interest beside it,
           and above the scale bar and attribution at the foot (buildings printed under
           them). */
        right = Math.min(key.width + 16, size.x / 2);
        bottom = Math.min(Math.max(cornerBox("bottom", "left").h,
          attribution ? attribution.getBoundingClientRect().height + 4 : 0), size.y / 5);
      } else {
        /* An open legend on a wide screen: the area of interest beside it, not under it. */
        if (wide(map)) { right = Math.min(Math.max(key.width + 16, D.legendPx || 0), size.x / 2.5); }
        /* The search box and the buttons sit over the top of the map, the scale, the
           attribution (and on a phone the folded legend) over its foot: fit the area of
           interest between them rather than under them (on a phone they take a third of
           the map). On a wide screen the open legend has the room on the right instead. */
        var foot = wide(map) ? (attribution ? attribution.getBoundingClientRect().height + 4 : 0)
          : cornerBox("bottom", "right").h;
        top = Math.min(Math.max(cornerBox("top", "left").h, cornerBox("top", "right").h),
          size.y / 3);
        bottom = Math.min(Math.max(cornerBox("bottom", "left").h, foot), size.y / 5);
      }
      map.fitBounds(D.view, {paddingTopLeft: [10 + ring, top + ring],
        paddingBottomRight: [right + ring, bottom + ring], animate: false});
      fitted = true;
      placeLabels();
    }
    /* A hub's name reads to the right of its dot, unless that runs under the open legend
       or off the map's edge (it printed as "Hub: Steels La..."), and less of it would
       to the left; with no room either side, on a few lines. */
    function placeLabels() {
      var box = map.getContainer().getBoundingClientRect();
      var key = legendOpen ? legend.getContainer().getBoundingClientRect() : null;
      function hidden(r) {  /* px of the label's width off the map or under the legend */
        var off = Math.max(box.left - r.left, 0) + Math.max(r.right - box.right, 0);
        var under = key && key.width > 0 && r.top < key.bottom && r.bottom > key.top ?
          Math.max(Math.min(r.right, key.right) - Math.max(r.left, key.left), 0) : 0;
        return off + under;
      }
      markers.forEach(function (m) {
        var tip = m.site.label ? m.dot.getTooltip() : null;
        var el = tip ? tip.getElement() : null;
        if (!el) { return; }
        var best = null;
        [false, true].forEach(function (wrap) {
          ["right", "left"].forEach(function (side) {
            if (best && best.cost < 0.5) { return; }  /* the first that fits wins */
            el.classList.toggle("eo-wrap", wrap);
            labelSide(tip, m.R, side);
            var cost = hidden(el.getBoundingClientRect());
            if (!best || cost < best.cost - 0.5) { best = {wrap: wrap, side: side, cost: cost}; }
          });
        });
        el.classList.toggle("eo-wrap", best.wrap);
        labelSide(tip, m.R, best.side);
      });
      declutter();
    }
    /* Borough names keep clear of the hub's name and of each other, and on the map: each,
       the biggest borough first, is slid back inside the map's edges and, if it lands on a
       name already placed, moved a line up or down; with no free line it is hidden. */
    function declutter() {
      if (!boroughLabels.length) { return; }
      var box = map.getContainer().getBoundingClientRect(), taken = [];
      markers.forEach(function (m) {
        var tip = m.site.label ? m.dot.getTooltip() : null, el = tip ? tip.getElement() : null;
        var r = el ? el.getBoundingClientRect() : null;
        if (r && r.width > 0) { taken.push(r); }
      });
      function clash(r) {
        return taken.some(function (t) {
          return r.left < t.right + 2 && r.right > t.left - 2 && r.top < t.bottom + 1 &&
            r.bottom > t.top - 1;
        });
      }
      boroughLabels.slice().sort(function (a, b) { return b.area - a.area; }).forEach(function (x) {
        var el = x.marker.getElement(), span = el ? el.firstChild : null;
        if (!span || el.style.display === "none") { return; }
        el.style.visibility = "";
        var found = null;
        [false, true].some(function (wrap) {  /* on one line, else on two */
          span.classList.toggle("eo-wrap", wrap);
          span.style.transform = "";
          var r = span.getBoundingClientRect();
          if (!r.width || r.width > box.width - 8) { return false; }
          var dx = Math.max(box.left + 4 - r.left, 0) - Math.max(r.right - (box.right - 4), 0);
          return [0, -1, 1, -2, 2].some(function (k) {
            var dy = k * (r.height + 2);
            var c = {left: r.left + dx, right: r.right + dx, top: r.top + dy,
              bottom: r.bottom + dy};
            if (c.top < box.top || c.bottom > box.bottom || clash(c)) { return false; }
            found = {dx: dx, dy: dy, box: c};
            return true;
          });
        });
        if (!found) { el.style.visibility = "hidden"; return; }
        span.style.transform = "translate(calc(-50% + " + found.dx.toFixed(1) + "px), calc(-50% + " +
          found.dy.toFixed(1) + "px))";
        taken.push(found.box);
      });
    }
    function labelSide(tip, R, side) {
      tip.options.direction = side;
      tip.options.offset = [side === "right" ? R + 2 : -(R + 2), 0];
      tip.update();
    }
    fitView();
    padControls();
    /* A phone turned, a window resized: keep the reader's view (refit only if it never was).
       Printing: the map takes the paper's size, so refit the area of interest to it. */
    var resizing = null;
    function resized(refit) {
      map.invalidateSize({animate: false});
      if (refit || !fitted) { fitView(); }
      padControls();
    }
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (resizing) { clearTimeout(resizing); }
        resizing = setTimeout(function () { resized(false); }, 60);
      }).observe(map.getContainer());
    }
    /* Printing. The browser fires "beforeprint" while the page still has its screen layout,
       lays the page out for paper and prints without running scripts again, so a view
       fitted to the screen would print shifted (the catchment off the paper's edge). The
       paper size of the map is in the style sheet (--eo-print-w, --eo-print-h): the map
       takes it before printing, the view is fitted to it with the legend open beside it,
       and both go back afterwards. */
    function beforePrint() {
      if (paper) { return; }
      var el = map.getContainer(), css = window.getComputedStyle(el);
      var w = css.getPropertyValue("--eo-print-w").trim();
      var h = css.getPropertyValue("--eo-print-h").trim();
      paper = {open: legendOpen, style: el.getAttribute("style")};
      document.documentElement.classList.add("eo-printing");
      if (w && h) {
        el.style.setProperty("width", w, "important");
        el.style.setProperty("height", h, "important");
      }
      legendOpen = true;
      legend.update();
      map.invalidateSize({animate: false, pan: false});
      padControls();  /* the attribution's width was the screen's: it ran over the scale */
      fitView();
    }
    function afterPrint() {
      if (!paper) { return; }
      var el = map.getContainer();
      if (paper.style === null) { el.removeAttribute("style"); } else { el.setAttribute("style", paper.style); }
      legendOpen = paper.open;
      paper = null;
      document.documentElement.classList.remove("eo-printing");
      legend.update();
      resized(true);
    }
    /* Chromium reports the print media query as not matching just after "beforeprint"
       and matching again before it lays out the paper: restoring the screen layout on
       that first change printed the legend over the catchment. So "afterprint" restores
       it, and a change to screen only does if no print change follows within a second
       (for a browser without "afterprint"); a change to print fits the paper as
       "beforeprint" does. */
    var restoring = null;
    function stopRestoring() {
      if (restoring) { clearTimeout(restoring); restoring = null; }
    }
    window.addEventListener("beforeprint", function () { stopRestoring(); beforePrint(); });
    window.addEventListener("afterprint", function () { stopRestoring(); afterPrint(); });
    var printing = window.matchMedia ? window.matchMedia("print") : null;
    if (printing && printing.addEventListener) {
      printing.addEventListener("change", function (e) {
        stopRestoring();
        if (e.matches) { beforePrint(); } else if (paper) {
          restoring = setTimeout(function () { restoring = null; afterPrint(); }, 1000);
        }
      });
    }
    map.on("overlayadd overlayremove", function (e) {
      var isBand = Object.keys(G.bands).some(function (b) { return G.bands[b] === e.layer; });
      if (isBand) { refresh(); }
    });

    document.querySelectorAll("[data-eo-site]").forEach(function (row) {
      row.addEventListener("click", function () {
        var m = markers[Number(row.getAttribute("data-eo-site"))];
        if (!m) { return; }
        /* On a phone the map is above the list: bring it back into view, or the tap
           seems to do nothing. */
        var box = map.getContainer().getBoundingClientRect();
        if (box.top < 0 || box.bottom > window.innerHeight + 1) {
          map.getContainer().scrollIntoView({block: "start"});
        }
        if (!map.hasLayer(G.sites)) { map.addLayer(G.sites); }
        map.setView(m.dot.getLatLng(), Math.max(map.getZoom(), 15), {animate: false});
        m.dot.openPopup();
      });
    });
    refresh();
    return {markers: markers, flows: flows, state: state, refresh: refresh};
  }

  window.EstatesOptMaps = {draw: draw, esc: esc};
})();
