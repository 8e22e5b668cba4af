"""A synthetic phone photo with an exactly known depth map, and its depth-aware blur.

Ray-casts a small outdoor scene with numpy: a gravel ground receding to a
brick wall 15 m away (with a sign and a string of small lights), a poster
of ``skimage.data.astronaut()`` standing 3.5 m away, and a card with
``skimage.data.coffee()`` 1.6 m away at the lower right.  Every pixel's
distance is known exactly, so the photo is written as a Google camera
writes a depth photo: a JPEG whose XMP carries a GDepth map (RangeInverse,
a 400x300 PNG in the extended XMP).

It then reads the photo and its depth map back, renders them as the CLI
does by default (``bokehme.render`` with the offline ``selfie`` model and
``Options()``), writes a before | after figure for the README, and prints
for each part of the scene the lens model's blur radius and the share of
fine detail (high-pass energy) the render kept: about 1 on the poster in
focus, less the further a part lies from its depth, in front or behind.

Writes sample_images/depth_scene.jpg and docs/depth_before_after.jpg.

Run: python benchmarks/depth_demo.py
"""

import base64
import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage
from scipy.signal import fftconvolve
from skimage import data, transform

import checkout  # noqa: F401  (first: this checkout's bokehme, not the installed one)
import bokehme
from bokehme import options as rendering_options
from bokehme.imaging import depth_map
from bokehme.imaging.aperture import aperture_kernel
from bokehme.imaging.colour import linear_to_srgb, srgb_to_linear
from bokehme.io import read_depth

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "sample_images" / "depth_scene.jpg"
FIGURE = ROOT / "docs" / "depth_before_after.jpg"

WIDTH, HEIGHT = 1200, 900
FOCAL = 1000.0  # pixels: a 62 degree horizontal field of view
# The optical centre sits high in the frame (a shifted lens, as a level phone
# cropped low) so that the ground fills the lower two thirds.
CENTRE = (WIDTH / 2, 280.0)
CAMERA_HEIGHT = 1.2  # metres above the ground
WALL_DISTANCE = 15.0
POSTER_DISTANCE = 3.5
DEPTH_MAP_SCALE = 3  # the depth map is 400x300, as a phone's is a few times smaller
SUN = np.array([-0.45, 0.8, -0.4], np.float32) / np.linalg.norm([-0.45, 0.8, -0.4])

# Surface ids of the id map.
GROUND, WALL, SIGN, LIGHT, POSTER, FRAME, CARD = range(7)


# --------------------------------------------------------------------------
# Geometry


def camera_rays():
    """Direction of every pixel's ray, scaled so that its z is 1 (depth = ray parameter).

    Returns
    -------
    (H, W, 3) float32 ndarray
    """
    columns = (np.arange(WIDTH, dtype=np.float32) + 0.5 - CENTRE[0]) / FOCAL
    rows = (np.arange(HEIGHT, dtype=np.float32) + 0.5 - CENTRE[1]) / FOCAL
    rays = np.empty((HEIGHT, WIDTH, 3), np.float32)
    rays[..., 0] = columns[None, :]
    rays[..., 1] = -rows[:, None]
    rays[..., 2] = 1
    return rays


def rectangle(centre, width, height, yaw=0.0):
    """A standing rectangle: centre (m), size (m), turned by `yaw` degrees about the vertical.

    Returns
    -------
    dict
        ``centre``, unit axes ``across`` and ``up``, ``normal`` (towards the
        camera) and half sizes.
    """
    turn = np.radians(yaw)
    across = np.array([np.cos(turn), 0, np.sin(turn)], np.float32)
    up = np.array([0, 1, 0], np.float32)
    return {"centre": np.asarray(centre, np.float32), "across": across, "up": up,
            "normal": np.cross(across, up), "half": (width / 2, height / 2)}


def hit_rectangle(origins, rays, rect):
    """Where rays meet a rectangle.

    Parameters
    ----------
    origins : (..., 3) float32 ndarray or (3,)
    rays : (..., 3) float32 ndarray
    rect : dict of :func:`rectangle`

    Returns
    -------
    t : (...) float32 ndarray
        Ray parameter of the hit, inf where the ray misses.
    u, v : (...) float32 ndarray
        Position on the rectangle in [0, 1], left to right and top to bottom.
    """
    normal = rect["normal"]
    facing = rays @ normal
    with np.errstate(divide="ignore", invalid="ignore"):
        t = ((rect["centre"] - origins) @ normal) / facing
    offset = origins + t[..., None] * rays - rect["centre"]
    half_width, half_height = rect["half"]
    u = (offset @ rect["across"]) / (2 * half_width) + 0.5
    v = 0.5 - (offset @ rect["up"]) / (2 * half_height)
    inside = (t > 1e-4) & (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    return np.where(inside, t, np.float32(np.inf)).astype(np.float32), u, v


POSTER_BOARD = rectangle((-0.15, -CAMERA_HEIGHT + 0.95, POSTER_DISTANCE), 1.5, 1.5)
POSTER_PICTURE = rectangle((-0.15, -CAMERA_HEIGHT + 0.97, POSTER_DISTANCE - 0.005), 1.36, 1.36)
POSTER_LEGS = [rectangle((x, -CAMERA_HEIGHT + 0.1, POSTER_DISTANCE + 0.01), 0.06, 0.2) for x in (-0.7, 0.4)]
NEAR_CARD = rectangle((0.78, -0.8, 1.6), 0.66, 0.44, yaw=-25)
SIGN_BOARD = rectangle((-4.6, 1.6, WALL_DISTANCE - 0.01), 3.4, 1.3)


def lights():
    """Centres (m) of the small lights strung across the wall, sagging between two hooks."""
    x = np.linspace(-6.5, 6.5, 15, dtype=np.float32)
    y = 2.6 - 0.5 * (1 - (x / 6.5) ** 2)
    return np.stack([x, y, np.full_like(x, WALL_DISTANCE - 0.02)], axis=1)


LIGHT_RADIUS = 0.055  # metres: about 4 px across at the wall


def trace(rays, card=True):
    """Nearest surface along every ray; without the near card if `card` is False.

    Returns
    -------
    distance : (H, W) float32 ndarray
        Depth (z, metres) of the hit.
    surface : (H, W) uint8 ndarray
        Surface id.
    u, v : (H, W) float32 ndarray
        Texture coordinates: metres on the ground and the wall, [0, 1] on
        the pictures.
    """
    origin = np.zeros(3, np.float32)
    with np.errstate(divide="ignore"):
        ground = np.where(rays[..., 1] < 0, -CAMERA_HEIGHT / rays[..., 1], np.inf).astype(np.float32)
    distance = np.minimum(ground, np.float32(WALL_DISTANCE))
    surface = np.where(ground < WALL_DISTANCE, GROUND, WALL).astype(np.uint8)
    u = rays[..., 0] * distance
    v = np.where(surface == GROUND, distance, -rays[..., 1] * distance)

    def lay(rect, surface_id, picture_uv=True):
        t, pu, pv = hit_rectangle(origin, rays, rect)
        nearer = t < distance
        distance[nearer] = t[nearer]
        surface[nearer] = surface_id
        if picture_uv:
            u[nearer], v[nearer] = pu[nearer], pv[nearer]

    lay(SIGN_BOARD, SIGN)
    for leg in POSTER_LEGS:
        lay(leg, FRAME)
    lay(POSTER_BOARD, FRAME)
    lay(POSTER_PICTURE, POSTER)
    if card:
        lay(NEAR_CARD, CARD)
    # Lights: discs on the wall where the wall is what the ray meets.
    hit = rays * distance[..., None]
    for centre in lights():
        near = np.sum((hit - centre) ** 2, axis=-1) < LIGHT_RADIUS ** 2
        surface[near & (surface == WALL)] = LIGHT
    return distance, surface, u, v


def in_shadow(points):
    """Whether each point's path to the sun is blocked by the poster or the card."""
    towards = np.broadcast_to(SUN, points.shape)
    blocked = np.zeros(points.shape[:-1], bool)
    for rect in (POSTER_BOARD, NEAR_CARD, *POSTER_LEGS):
        blocked |= np.isfinite(hit_rectangle(points, towards, rect)[0])
    return blocked


# --------------------------------------------------------------------------
# Textures


def pyramid(texture):
    """Gaussian pyramid of a float32 texture in linear light, finest first."""
    levels = transform.pyramid_gaussian(texture, max_layer=7, channel_axis=-1 if texture.ndim == 3 else None)
    return [level.astype(np.float32) for level in levels]


def sample(levels, x, y, footprint, wrap):
    """Trilinear texture look-up.

    Parameters
    ----------
    levels : list of float32 ndarray
        :func:`pyramid` of a (h, w) or (h, w, 3) texture.
    x, y : (n,) float32 ndarray
        Texel coordinates at the finest level.
    footprint : (n,) float32 ndarray
        Texels that one pixel spans, which picks the pyramid level, so that
        the receding ground does not alias.
    wrap : bool
        Tile the texture; otherwise its border is repeated.

    Returns
    -------
    (n, 3) float32 ndarray
    """
    level = np.clip(np.log2(np.maximum(footprint, 1)), 0, len(levels) - 1.001)
    low = np.floor(level).astype(int)
    out = np.zeros((x.size, 3), np.float32)
    mode = "grid-wrap" if wrap else "nearest"
    for index in np.unique(low):
        chosen = low == index
        weight = (level[chosen] - index)[:, None]
        for step, share in ((0, 1 - weight), (1, weight)):
            texture = levels[index + step]
            scale = np.float32(2.0 ** -(index + step))
            coordinates = [y[chosen] * scale - 0.5, x[chosen] * scale - 0.5]
            planes = texture[..., None] if texture.ndim == 2 else texture
            looked_up = np.stack([ndimage.map_coordinates(planes[..., c], coordinates, order=1, mode=mode)
                                  for c in range(planes.shape[-1])], axis=-1)
            out[chosen] += share * looked_up
    return out


def linear(image):
    """An sRGB uint8 image as float32 linear light."""
    return srgb_to_linear(image.astype(np.float32) / 255)


# --------------------------------------------------------------------------
# The photo


def shade(distance, surface, u, v, rays, rng):
    """Colour every pixel: textures, sunlight with shadows, haze, lens softness and noise.

    Returns
    -------
    (H, W, 3) float32 ndarray
        sRGB in [0, 1].
    """
    colour = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    pixel = distance / FOCAL  # metres per pixel across, at each hit

    def paint(surface_id, levels, x, y, footprint, tint=(1, 1, 1), wrap=False):
        where = surface == surface_id
        looked_up = sample(levels, x[where], y[where], footprint[where], wrap)
        colour[where] = looked_up * np.asarray(tint, np.float32)

    gravel_per_metre = 512 / 0.8  # texels: one gravel tile covers 0.8 m
    # Ground seen at a grazing angle: a pixel spans far more along the depth
    # than across; their geometric mean blurs the far ground a little and
    # keeps it free of moire.
    along = pixel * distance / CAMERA_HEIGHT
    paint(GROUND, pyramid(linear(data.gravel())), u * gravel_per_metre, v * gravel_per_metre,
          np.sqrt(pixel * along) * gravel_per_metre, tint=(0.95, 0.85, 0.7), wrap=True)
    # The brick photo shows a pavement of bricks laid lengthwise away from
    # the camera: turned a quarter, it reads as a wall of courses.
    bricks_per_metre = 250  # texels: a brick about 0.4 m long
    paint(WALL, pyramid(linear(data.brick().T)), u * bricks_per_metre, v * bricks_per_metre,
          pixel * bricks_per_metre, tint=(0.9, 0.55, 0.4), wrap=True)
    text = data.text()
    paint(SIGN, pyramid(linear(text)), u * text.shape[1], v * text.shape[0],
          pixel * text.shape[1] / 3.4, tint=(0.95, 0.95, 0.85))
    astronaut = data.astronaut()
    paint(POSTER, pyramid(linear(astronaut)), u * astronaut.shape[1], v * astronaut.shape[0],
          pixel * astronaut.shape[1] / 1.36)
    coffee = data.coffee()
    paint(CARD, pyramid(linear(coffee)), u * coffee.shape[1], v * coffee.shape[0],
          pixel * coffee.shape[1] / 0.66)
    colour[surface == FRAME] = (0.03, 0.03, 0.035)

    # Sunlight: Lambert on each surface's normal, shadows cast on the ground and wall.
    normals = {GROUND: np.array([0, 1, 0], np.float32), CARD: NEAR_CARD["normal"]}
    light = np.full((HEIGHT, WIDTH), max(float(np.array([0, 0, -1], np.float32) @ SUN), 0), np.float32)
    for surface_id, normal in normals.items():
        light[surface == surface_id] = max(float(normal @ SUN), 0)
    points = rays * distance[..., None]
    lit = (surface == GROUND) | (surface == WALL) | (surface == SIGN)
    shadow = np.zeros_like(lit)
    shadow[lit] = in_shadow(points[lit] + np.float32(1e-3) * SUN)
    light[shadow] = 0
    colour *= (0.35 + 1.1 * light)[..., None]
    colour[surface == LIGHT] = (6.0, 4.6, 2.6)  # lamps: far brighter than anything they light

    # A little haze towards the wall, and the lens's own slight softness.
    haze = 1 - np.exp(-distance / 80)
    colour += haze[..., None] * (np.array([0.55, 0.6, 0.7], np.float32) - colour)
    colour = ndimage.gaussian_filter(colour, (0.6, 0.6, 0))
    # Vignetting, then sensor noise in sRGB (shot noise is larger in the light).
    y, x = np.ogrid[:HEIGHT, :WIDTH]
    fall_off = 1 - 0.25 * (((x - WIDTH / 2) / WIDTH) ** 2 + ((y - HEIGHT / 2) / WIDTH) ** 2) * 4
    colour *= fall_off.astype(np.float32)[..., None]
    srgb = linear_to_srgb(np.clip(colour, 0, 1))
    srgb += rng.normal(0, 1, srgb.shape).astype(np.float32) * (0.004 + 0.008 * srgb)
    return np.clip(srgb, 0, 1)


def card_over_hidden_ground(srgb, surface, rays, seed, radius):
    """The near card blurred by a disc of `radius` over the scene without it, as a lens shows it.

    Near its outline a blurred object in front is see-through: the lens also
    gathers light from what lies behind its edge.  The photo does not show
    that, but the ray tracer can: this is the answer for the card's outline.

    Parameters
    ----------
    srgb : (H, W, 3) float32 ndarray
        The photo of :func:`shade` (made with `seed`).
    surface : (H, W) uint8 ndarray
        Its surface ids.

    Returns
    -------
    (H, W, 3) float32 ndarray
        sRGB in [0, 1].
    """
    # The same seed gives the hidden scene the same sensor noise.
    hidden = srgb_to_linear(shade(*trace(rays, card=False), rays, np.random.default_rng(seed)))
    kernel = aperture_kernel(radius)
    coverage = (surface == CARD).astype(np.float32)
    card = fftconvolve(srgb_to_linear(srgb) * coverage[..., None], kernel[..., None], mode="same")
    coverage = fftconvolve(coverage, kernel, mode="same")[..., None]
    return linear_to_srgb(np.clip(card + (1 - coverage) * hidden, 0, 1).astype(np.float32))


def disparity_of(distance):
    """Disparity in [0, 1], near = 1, as RangeInverse stores it, and the (near, far) it spans."""
    near, far = float(distance.min()), float(distance.max())
    disparity = (1 / distance - 1 / far) / (1 / near - 1 / far)
    return np.clip(disparity, 0, 1).astype(np.float32), near, far


def phone_depth_map(disparity):
    """The map a phone would store: a few times smaller, 8 bits."""
    small = disparity.reshape(HEIGHT // DEPTH_MAP_SCALE, DEPTH_MAP_SCALE, WIDTH // DEPTH_MAP_SCALE,
                              DEPTH_MAP_SCALE).mean(axis=(1, 3))
    return np.round(small * 255).astype(np.uint8)


# --------------------------------------------------------------------------
# The JPEG with a GDepth map


def _app1(body):
    return b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body


def gdepth_jpeg(srgb, levels, near, far, quality=92):
    """A JPEG carrying a GDepth map the way Google cameras write one.

    The standard XMP packet holds the map's description and names the
    extended packet (xmpNote:HasExtendedXMP, the MD5 of that packet); the
    extended packet holds the base64 PNG, split into APP1 chunks of at most
    65000 bytes, as the XMP specification says.

    Parameters
    ----------
    srgb : (H, W, 3) float32 ndarray
        The photo, sRGB in [0, 1].
    levels : (h, w) uint8 ndarray
        Disparity in 0..255, near = 255.
    near, far : float
        Distances (m) of disparity 255 and 0.

    Returns
    -------
    bytes
    """
    png = io.BytesIO()
    # RangeInverse stores 0 at the near limit, so the values are the disparity's complement.
    Image.fromarray(255 - levels).save(png, format="PNG", optimize=True)
    extended = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                b'<rdf:Description xmlns:GDepth="http://ns.google.com/photos/1.0/depthmap/" GDepth:Data="'
                + base64.b64encode(png.getvalue()) + b'"/></rdf:RDF></x:xmpmeta>')
    guid = hashlib.md5(extended).hexdigest().upper().encode()
    standard = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                b'<rdf:Description xmlns:GDepth="http://ns.google.com/photos/1.0/depthmap/"'
                b' xmlns:xmpNote="http://ns.adobe.com/xmp/note/" GDepth:Format="RangeInverse"'
                b' GDepth:Near="%.4f" GDepth:Far="%.4f" GDepth:Mime="image/png" GDepth:Units="m"'
                b' GDepth:MeasureType="OpticalAxis" xmpNote:HasExtendedXMP="%s"/></rdf:RDF></x:xmpmeta>'
                % (near, far, guid))
    segments = _app1(b"http://ns.adobe.com/xap/1.0/\x00" + standard)
    chunk = 65000
    for offset in range(0, len(extended), chunk):
        segments += _app1(b"http://ns.adobe.com/xmp/extension/\x00" + guid + len(extended).to_bytes(4, "big")
                          + offset.to_bytes(4, "big") + extended[offset:offset + chunk])
    jpeg = io.BytesIO()
    Image.fromarray(np.round(srgb * 255).astype(np.uint8)).save(jpeg, format="JPEG", quality=quality)
    jpeg = jpeg.getvalue()
    # After the JFIF APP0 segment, where Exif and XMP go.
    app0_end = 4 + int.from_bytes(jpeg[4:6], "big") if jpeg[2:4] == b"\xff\xe0" else 2
    return jpeg[:app0_end] + segments + jpeg[app0_end:]


# --------------------------------------------------------------------------
# Figure and numbers


def figure(before, after, width=1600, gap=8):
    """Before | after side by side, labelled, as an sRGB uint8 PIL image."""
    half = (width - gap) // 2
    height = round(half * before.shape[0] / before.shape[1])
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    font = ImageFont.load_default(size=22)
    for column, (image, label) in enumerate(((before, "photo"), (after, "bokehme, depth-aware"))):
        small = Image.fromarray(np.round(image * 255).astype(np.uint8)).resize((half, height), Image.LANCZOS)
        draw = ImageDraw.Draw(small)
        draw.text((14, 12), label, font=font, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
        canvas.paste(small, (column * (half + gap), 0))
    return canvas


def luminance(image):
    return image @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def detail(image):
    """Fine-detail energy per pixel: the squared band-pass (Gaussians of 1 and 3 px) of the luminance.

    A band a few pixels wide rather than a Laplacian, whose energy is mostly
    the sensor noise and is gone under any blur; this band fades gradually,
    about half of it left under a 3 px blur.
    """
    lum = luminance(image)
    return (ndimage.gaussian_filter(lum, 1) - ndimage.gaussian_filter(lum, 3)) ** 2


def edge_step_kept(before, after, inside, outside):
    """Luminance step between two thin bands along an edge, in `after` over `before`."""
    def step(image):
        lum = luminance(image)
        return abs(float(lum[inside].mean()) - float(lum[outside].mean()))

    return step(after) / step(before)


def regions(surface, distance):
    """Named boolean masks of scene parts, kept 16 px away from other surfaces and the lights."""
    def inner(mask):
        return ndimage.minimum_filter(mask, size=33)

    ground = inner(surface == GROUND) & ~ndimage.maximum_filter(surface == CARD, size=61)
    wall = inner(surface == WALL) & ~ndimage.maximum_filter(surface == LIGHT, size=61)
    parts = {"poster (focus plane)": inner(surface == POSTER), "near card": inner(surface == CARD),
             "far wall": wall, "wall sign": inner(surface == SIGN)}
    for low, high in ((1.9, 2.2), (2.6, 2.9), (3.4, 3.6), (5.0, 5.5), (8.0, 9.0), (12.0, 14.0)):
        parts[f"ground {low:g}-{high:g} m"] = ground & (distance >= low) & (distance < high)
    return parts


def report(before, after, radius, disparity, focus, distance, surface, lens):
    """Print, per part of the scene: distance, disparity, blur radius and detail kept;
    then how sharp the near card's outline stays where it crosses ground in
    focus, in `after` and in the `lens` answer of :func:`card_over_hidden_ground`."""
    before_detail, after_detail = detail(before), detail(after)
    print(f"{'part':<22} {'distance m':>10} {'disparity':>9} {'radius px':>9} {'detail kept':>11}")
    for name, mask in regions(surface, distance).items():
        kept = after_detail[mask].mean() / before_detail[mask].mean()
        print(f"{name:<22} {np.median(distance[mask]):10.2f} {np.median(disparity[mask]):9.3f} "
              f"{np.median(radius[mask]):9.1f} {kept:11.1%}")
    card = surface == CARD
    ground_in_focus = (surface == GROUND) & (np.abs(disparity - focus) < depth_map.DEFAULT_DEPTH_OF_FIELD / 2)
    along = ndimage.maximum_filter(ground_in_focus, size=15)
    inside = card & ~ndimage.minimum_filter(card, size=7) & along
    outside = ndimage.maximum_filter(card, size=7) & ~card & along
    print(f"near card's outline over ground in focus: step across it (3 px each side) "
          f"{edge_step_kept(before, after, inside, outside):.0%} of the photo's; a lens: "
          f"{edge_step_kept(before, lens, inside, outside):.0%}")


def main(seed=7):
    rays = camera_rays()
    distance, surface, u, v = trace(rays)
    srgb = shade(distance, surface, u, v, rays, np.random.default_rng(seed))
    disparity, near, far = disparity_of(distance)
    levels = phone_depth_map(disparity)
    PHOTO.write_bytes(gdepth_jpeg(srgb, levels, near, far))

    read = read_depth(PHOTO)
    stored = levels.astype(np.float32) / 255
    print(f"{PHOTO.relative_to(ROOT)}: {WIDTH}x{HEIGHT}, {PHOTO.stat().st_size / 1000:.0f} kB, "
          f"depth map {read.shape[1]}x{read.shape[0]}, {near:.2f}-{far:.2f} m; read_depth - stored disparity: "
          f"max {np.abs(read - stored).max():.1e}")

    # As the CLI does by default, offline: the selfie model, Options(), the depth the photo carries.
    photo = bokehme.read_photo(PHOTO)
    options = bokehme.Options()
    pixels = photo.pixels
    rendering = bokehme.render(pixels, options, bokehme.load_segmenter("selfie"), disparity=read)

    fine = depth_map.upsample_disparity(pixels, read)
    subject = rendering.alpha > 0.5
    focus = depth_map.focus_disparity(fine, rendering.alpha if subject.any() else None)
    radius = depth_map.blur_radius_map(fine, focus, rendering_options.blur_radius(options, pixels.shape))
    on_poster = (surface == POSTER)
    print(f"subject (alpha > 0.5): {subject.mean():.1%} of the photo, {(subject & on_poster).sum() / subject.sum():.0%}"
          f" of it on the poster; focus disparity {focus:.3f} (poster: {np.median(disparity[on_poster]):.3f}); "
          f"largest radius {radius.max():.1f} px")
    lens = card_over_hidden_ground(srgb, surface, rays, seed, float(np.median(radius[surface == CARD])))
    report(pixels, rendering.image, radius, disparity, focus, distance, surface, lens)

    FIGURE.parent.mkdir(exist_ok=True)
    figure(pixels, rendering.image).save(FIGURE, quality=85, optimize=True)
    print(f"{FIGURE.relative_to(ROOT)}: {FIGURE.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
