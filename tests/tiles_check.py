#!/usr/bin/env python3
"""Checks machimap's vector tiles with an independent decoder and a brute force.

Usage: tiles_check.py BASE_URL CATALOG_TOML SEED COUNT   (MACHIMAP_TOKEN: a staff Bearer token)

The features come from the server's own GeoJSON (`/collections/{id}/items`, tested against GDAL
elsewhere); the tiles are decoded by PyPI's mapbox-vector-tile; which features meet a tile, the
geometry tolerances and polygon validity are computed with shapely. For COUNT random tiles at
z10-z18 (most picked on a random vertex of a random feature, some anywhere in the town):
- per layer, the tile's feature ids equal the features whose geometry meets the tile with its
  buffer, except those the low-zoom rule leaves out (each one checked against the rule: below
  z14, not a `keep` layer, a line or polygon under one pixel both ways, or a point whose 16-unit
  cell an earlier point of the same layer holds); features within one grid unit of the buffer's
  edge may go either way (rounding);
- decoded vertices lie inside the buffered tile and within one pixel (8 grid units) of the
  source geometry, and the source clipped to the tile lies within one pixel of the decoded one;
- every decoded polygon is valid;
- the properties are the view's attributes the catalog names for that zoom, with their values.
Prints one JSON line of counts; exits 1 listing the failures.
"""

import json
import math
import os
import random
import sys
import tomllib
import urllib.request

import mapbox_vector_tile
import numpy
import shapely
from shapely.geometry import box, shape

EXTENT = 4096
BUFFER = 64
PIXEL = 8.0
CELL = 16.0
DETAIL_ZOOM = 14
TOLERANCE = PIXEL
ID_PROPERTY = "@id"


def get(url, token):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as r:
        return r.status, r.read()


def features_of(base, layer, token):
    out = []
    url = f"{base}/collections/{layer}/items?limit=1000&f=json"
    while url:
        _, body = get(url, token)
        doc = json.loads(body)
        out.extend(doc["features"])
        url = next((l["href"] for l in doc.get("links", []) if l["rel"] == "next"), None)
    return out


def tile_units(z, x, y):
    """Longitude/latitude (an N x 2 array) to this tile's grid units, y down."""
    n = 2.0**z

    def f(c):
        mx = (c[:, 0] + 180.0) / 360.0
        s = numpy.sin(numpy.radians(c[:, 1]))
        my = 0.5 - numpy.log((1 + s) / (1 - s)) / (4 * math.pi)
        return numpy.column_stack(((mx * n - x) * EXTENT, (my * n - y) * EXTENT))

    return f


def lonlat(z, x, y, u, v):
    n = 2.0**z
    lon = (x + u / EXTENT) / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + v / EXTENT) / n))))
    return lon, lat


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    s = math.sin(math.radians(lat))
    y = int((0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def first_point(g):
    if g.geom_type == "Point":
        return g
    if g.geom_type == "MultiPoint":
        return g.geoms[0]
    return None


def wanted_attributes(tiles_config, z):
    names = (tiles_config or {}).get("attributes", {})
    if not names:
        return None  # all
    keys = [int(k) for k in names if int(k) <= z]
    if not keys:
        return []
    return names[str(max(keys))]


def same_value(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def main():
    base, catalog_path, seed, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    token = os.environ.get("MACHIMAP_TOKEN") or None
    with open(catalog_path, "rb") as fh:
        catalog = tomllib.load(fh)
    config = {l["id"]: l.get("tiles", {}) for l in catalog["layer"]}
    west, south, east, north = catalog["server"]["extent"]

    _, body = get(f"{base}/collections?f=json", token)
    layer_ids = [c["id"] for c in json.loads(body)["collections"]]
    layers = {}
    for lid in layer_ids:
        feats = []
        for f in features_of(base, lid, token):
            if f.get("geometry") is None:
                continue
            feats.append((str(f["id"]), shape(f["geometry"]), f["properties"] or {}))
        layers[lid] = feats

    rng = random.Random(seed)
    all_feats = [(lid, f) for lid, fs in layers.items() for f in fs]
    tiles = set()
    while len(tiles) < count:
        z = rng.randint(10, 18)
        if rng.random() < 0.85:
            _, (_, g, _) = rng.choice(all_feats)
            coords = shapely.get_coordinates(g)
            lon, lat = coords[rng.randrange(len(coords))]
        else:
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        x, y = tile_of(lon, lat, z)
        tiles.add((z, x, y))

    failures = []
    counts = {
        "tiles": 0,
        "empty_tiles": 0,
        "features": 0,
        "polygons": 0,
        "thinned_points": 0,
        "dropped_small": 0,
        "edge_excused": 0,
        "layers": set(),
    }

    def fail(msg):
        if len(failures) < 60:
            failures.append(msg)

    lo, hi = -BUFFER, EXTENT + BUFFER
    for z, x, y in sorted(tiles):
        counts["tiles"] += 1
        where = f"tile {z}/{y}/{x}"
        status, body = get(f"{base}/tiles/WebMercatorQuad/{z}/{y}/{x}", token)
        if status == 204:
            decoded = {}
            counts["empty_tiles"] += 1
        elif status == 200:
            decoded = mapbox_vector_tile.decode(
                body, default_options={"y_coord_down": True, "geojson": False}
            )
        else:
            fail(f"{where}: status {status}")
            continue
        to_units = tile_units(z, x, y)
        w, n = lonlat(z, x, y, lo, lo)
        e, s = lonlat(z, x, y, hi, hi)
        buffered = box(w, s, e, n)
        unit_box = box(lo, lo, hi, hi)
        inner_box = box(lo + 1, lo + 1, hi - 1, hi - 1)
        for lid in decoded:
            if lid not in layers:
                fail(f"{where}: layer {lid} is not a collection the caller sees")
        for lid, feats in layers.items():
            cfg = config.get(lid, {})
            if not (cfg.get("minzoom", 0) <= z <= cfg.get("maxzoom", 24)):
                if lid in decoded:
                    fail(f"{where}: {lid} is outside its zooms")
                continue
            keep = cfg.get("keep", False)
            thin = z < DETAIL_ZOOM and not keep
            layer = decoded.get(lid)
            if layer is not None and layer["extent"] != EXTENT:
                fail(f"{where}: {lid} extent {layer['extent']}")
            got = {}
            for tf in (layer or {}).get("features", []):
                props = dict(tf["properties"])
                fid = str(props.pop(ID_PROPERTY)) if ID_PROPERTY in props else str(tf.get("id"))
                if fid in got:
                    fail(f"{where}: {lid} holds feature {fid} twice")
                got[fid] = (tf, props)
            by_id = {fid: (g, p) for fid, g, p in feats}
            meets = {fid for fid, g, _ in feats if g.intersects(buffered)}
            units = {}

            def in_units(fid):
                if fid not in units:
                    units[fid] = shapely.transform(by_id[fid][0], to_units)
                return units[fid]

            # Cells held by the layer's kept points, for the point rule.
            held = set()
            for fid in got:
                if fid in by_id and thin:
                    p = first_point(in_units(fid))
                    if p is not None:
                        cell = (math.floor(p.x / CELL), math.floor(p.y / CELL))
                        if cell in held:
                            fail(f"{where}: {lid} keeps two points in cell {cell} below z14")
                        held.add(cell)
            for fid in got:
                if fid not in by_id:
                    fail(f"{where}: {lid} has feature {fid}, which the view does not show")
                elif fid not in meets:
                    if in_units(fid).distance(unit_box) <= 1.0:
                        counts["edge_excused"] += 1
                    else:
                        fail(f"{where}: {lid} feature {fid} does not meet the buffered tile")
            for fid in meets - set(got):
                g = in_units(fid)
                if not g.intersects(inner_box):
                    counts["edge_excused"] += 1
                    continue
                p = first_point(g)
                if thin and p is not None:
                    cell = (math.floor(p.x / CELL), math.floor(p.y / CELL))
                    if cell in held:
                        counts["thinned_points"] += 1
                        continue
                    fail(f"{where}: {lid} point {fid} left out, but no kept point holds its cell")
                    continue
                if thin and p is None:
                    minx, miny, maxx, maxy = g.bounds
                    if maxx - minx < PIXEL and maxy - miny < PIXEL:
                        counts["dropped_small"] += 1
                        continue
                fail(
                    f"{where}: {lid} feature {fid} meets the buffered tile but is missing "
                    f"(keep={keep})"
                )

            wanted = wanted_attributes(cfg, z)
            for fid, (tf, props) in got.items():
                if fid not in by_id:
                    continue
                counts["features"] += 1
                counts["layers"].add(lid)
                src_geom, src_props = by_id[fid]
                d = shape(tf["geometry"])
                coords = shapely.get_coordinates(d)
                if len(coords) == 0:
                    fail(f"{where}: {lid} {fid} has an empty geometry")
                    continue
                if coords.min() < lo - 1 or coords.max() > hi + 1:
                    fail(f"{where}: {lid} {fid} has a vertex outside the buffer: {d.bounds}")
                if d.geom_type in ("Polygon", "MultiPolygon"):
                    counts["polygons"] += 1
                    if not d.is_valid:
                        fail(f"{where}: {lid} {fid} polygon invalid: {shapely.is_valid_reason(d)}")
                g = in_units(fid)
                far = max(shapely.Point(c).distance(g) for c in coords)
                if far > TOLERANCE:
                    fail(f"{where}: {lid} {fid} decoded vertex {far:.1f} units from the source")
                clipped = g.intersection(unit_box)
                if clipped.geom_type in ("Polygon", "MultiPolygon"):
                    # Parts under two units wide cannot survive rounding to the grid: the
                    # source eroded by one unit must lie within one pixel of the tile's.
                    rest = clipped.buffer(-1.0).difference(d.buffer(TOLERANCE))
                    if rest.area > 1.0:
                        fail(f"{where}: {lid} {fid} loses {rest.area:.1f} square units of area")
                elif not clipped.is_empty:
                    back = max(shapely.Point(c).distance(d) for c in shapely.get_coordinates(clipped))
                    if back > TOLERANCE:
                        fail(f"{where}: {lid} {fid} source vertex {back:.1f} units from the tile's")
                expect = {
                    k: v
                    for k, v in src_props.items()
                    if v is not None and (wanted is None or k in wanted or "*" in wanted)
                }
                if set(props) != set(expect):
                    fail(f"{where}: {lid} {fid} properties {sorted(props)} != {sorted(expect)}")
                else:
                    for k, v in expect.items():
                        if not same_value(props[k], v):
                            fail(f"{where}: {lid} {fid} {k} = {props[k]!r}, source {v!r}")

    counts["layers"] = sorted(counts["layers"])
    print(json.dumps(counts, ensure_ascii=False))
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
