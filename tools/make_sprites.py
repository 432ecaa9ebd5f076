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
OBJECTS = [("cat", "a cat", "\U0001F408"), ("rocket", "a rocket", "\U0001F680"),
           ("pancakes", "pancakes", "\U0001F95E"), ("evergreen tree", "an evergreen tree", "\U0001F332"),
           ("sheep", "a sheep", "\U0001F411"), ("door", "a door", "\U0001F6AA"),
           ("grapes", "grapes", "\U0001F347"), ("banana", "a banana", "\U0001F34C"),
           ("apple", "an apple", "\U0001F34E"), ("watermelon", "a watermelon", "\U0001F349"),
           ("pineapple", "a pineapple", "\U0001F34D"), ("carrot", "a carrot", "\U0001F955"),
           ("mushroom", "a mushroom", "\U0001F344"), ("cactus", "a cactus", "\U0001F335"),
           ("sunflower", "a sunflower", "\U0001F33B"), ("snowman", "a snowman", "\u26C4"),
           ("umbrella", "an umbrella", "\u2602\ufe0f"), ("bus", "a bus", "\U0001F68C"),
           ("tractor", "a tractor", "\U0001F69C"), ("sailboat", "a sailboat", "\u26F5"),
           ("airplane", "an airplane", "\u2708\ufe0f"), ("house", "a house", "\U0001F3E0"),
           ("rainbow", "a rainbow", "\U0001F308"), ("crown", "a crown", "\U0001F451"),
           ("dress", "a dress", "\U0001F457"), ("top hat", "a top hat", "\U0001F3A9"),
           ("balloon", "a balloon", "\U0001F388"), ("teddy bear", "a teddy bear", "\U0001F9F8"),
           ("penguin", "a penguin", "\U0001F427"), ("whale", "a whale", "\U0001F40B"),
           ("butterfly", "a butterfly", "\U0001F98B"), ("elephant", "an elephant", "\U0001F418")]


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
