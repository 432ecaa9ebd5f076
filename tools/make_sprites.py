"""Render the offline world's objects from the Noto Color Emoji font into one sprite sheet.

    apt-get install fonts-noto-color-emoji && python tools/make_sprites.py

Writes pare/models/sprites.png (one 64x64 RGBA tile per object, in a row) and sprites.json
(each tile's name, its caption phrase and the emoji it came from), so that training, the
notebooks and the tests never need the font. Artwork: Noto Color Emoji (Apache License 2.0),
font under the SIL Open Font License 1.1.
"""

import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
TILE = 64
# name, caption phrase, emoji: everyday things with distinct silhouettes and colours.
OBJECTS = [
    ("cat", "a cat", "\U0001f408"),
    ("rocket", "a rocket", "\U0001f680"),
    ("pancakes", "pancakes", "\U0001f95e"),
    ("evergreen tree", "an evergreen tree", "\U0001f332"),
    ("sheep", "a sheep", "\U0001f411"),
    ("door", "a door", "\U0001f6aa"),
    ("grapes", "grapes", "\U0001f347"),
    ("banana", "a banana", "\U0001f34c"),
    ("apple", "an apple", "\U0001f34e"),
    ("watermelon", "a watermelon", "\U0001f349"),
    ("pineapple", "a pineapple", "\U0001f34d"),
    ("carrot", "a carrot", "\U0001f955"),
    ("mushroom", "a mushroom", "\U0001f344"),
    ("cactus", "a cactus", "\U0001f335"),
    ("sunflower", "a sunflower", "\U0001f33b"),
    ("snowman", "a snowman", "\u26c4"),
    ("umbrella", "an umbrella", "\u2602\ufe0f"),
    ("bus", "a bus", "\U0001f68c"),
    ("tractor", "a tractor", "\U0001f69c"),
    ("sailboat", "a sailboat", "\u26f5"),
    ("airplane", "an airplane", "\u2708\ufe0f"),
    ("house", "a house", "\U0001f3e0"),
    ("rainbow", "a rainbow", "\U0001f308"),
    ("crown", "a crown", "\U0001f451"),
    ("dress", "a dress", "\U0001f457"),
    ("top hat", "a top hat", "\U0001f3a9"),
    ("balloon", "a balloon", "\U0001f388"),
    ("teddy bear", "a teddy bear", "\U0001f9f8"),
    ("penguin", "a penguin", "\U0001f427"),
    ("whale", "a whale", "\U0001f40b"),
    ("butterfly", "a butterfly", "\U0001f98b"),
    ("elephant", "an elephant", "\U0001f418"),
]


def render(emoji, font):
    """One emoji -> a TILE x TILE RGBA tile: drawn at the font's only size (109 px), cropped to
    what it covers, centred on a transparent square, and shrunk."""
    canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((0, 0), emoji, font=font, embedded_color=True)
    art = canvas.crop(canvas.getbbox())
    side = max(art.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(art, ((side - art.width) // 2, (side - art.height) // 2))
    return square.resize((TILE, TILE), Image.LANCZOS)


if __name__ == "__main__":
    font = ImageFont.truetype(FONT, 109)
    sheet = Image.new("RGBA", (TILE * len(OBJECTS), TILE), (0, 0, 0, 0))
    for i, (_, _, emoji) in enumerate(OBJECTS):
        sheet.paste(render(emoji, font), (i * TILE, 0))
    out = Path(__file__).resolve().parent.parent / "pare" / "models"
    sheet.save(out / "sprites.png", optimize=True)
    names = [{"name": n, "phrase": p, "emoji": e} for n, p, e in OBJECTS]
    (out / "sprites.json").write_text(json.dumps({"tile": TILE, "objects": names}, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(OBJECTS)} sprites -> {out / 'sprites.png'} ({(out / 'sprites.png').stat().st_size // 1024} KiB)")
