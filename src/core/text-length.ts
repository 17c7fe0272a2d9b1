// Length limits on user text (message_length, room_name_length) count characters as people do:
// Unicode code points, so an emoji outside the BMP is one character, not two UTF-16 units.

/** The number of code points of the text. */
export function characterCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one character.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/** Whether the text has more than `limit` characters; cheap for text within the limit in UTF-16 units. */
export function longerThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  return characterCount(text) > limit;
}
