//! UTF-8 text → key presses through the keymap: a table from characters to (evdev key, needs Shift,
//! needs AltGr) built once from the same xkb layout the seat uses.

use std::collections::HashMap;

use smithay::input::keyboard::xkb;

/// How to type one character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStroke {
    pub evdev: u32,
    pub shift: bool,
    pub altgr: bool,
}

/// Character → stroke for one layout.
pub struct TextKeymap {
    map: HashMap<char, KeyStroke>,
}

impl TextKeymap {
    /// Build the table for an xkb layout (e.g. "us"). `None` if xkb cannot compile the keymap.
    pub fn new(layout: &str) -> Option<Self> {
        let ctx = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(&ctx, "", "", layout, "", None, xkb::KEYMAP_COMPILE_NO_FLAGS)?;
        let mut map = HashMap::new();
        let (min, max) = (keymap.min_keycode().raw(), keymap.max_keycode().raw());
        // Level 0 plain, 1 Shift, 2 AltGr, 3 Shift+AltGr; lower levels win.
        for level in 0..4u32 {
            for kc in min..=max {
                if kc < 8 {
                    continue;
                }
                let code = xkb::Keycode::new(kc);
                if level >= keymap.num_levels_for_key(code, 0) {
                    continue;
                }
                for sym in keymap.key_get_syms_by_level(code, 0, level) {
                    let cp = xkb::keysym_to_utf32(*sym);
                    if let Some(ch) =
                        char::from_u32(cp).filter(|c| cp != 0 && !c.is_control() || *c == '\n' || *c == '\t')
                    {
                        map.entry(ch).or_insert(KeyStroke { evdev: kc - 8, shift: level & 1 == 1, altgr: level >= 2 });
                    }
                }
            }
        }
        // A newline is typed as Return (xkb also maps KEY_LINEFEED to '\n', which terminals ignore).
        map.insert('\n', KeyStroke { evdev: 28, shift: false, altgr: false });
        Some(TextKeymap { map })
    }

    pub fn stroke(&self, ch: char) -> Option<KeyStroke> {
        self.map.get(&ch).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_layout_strokes() {
        let Some(km) = TextKeymap::new("us") else {
            panic!("xkb-data missing: install xkb-data");
        };
        assert_eq!(km.stroke('a'), Some(KeyStroke { evdev: 30, shift: false, altgr: false }));
        assert_eq!(km.stroke('A'), Some(KeyStroke { evdev: 30, shift: true, altgr: false }));
        assert_eq!(km.stroke('!'), Some(KeyStroke { evdev: 2, shift: true, altgr: false }));
        assert_eq!(km.stroke(' ').map(|s| s.evdev), Some(57));
        assert_eq!(km.stroke('/').map(|s| s.evdev), Some(53));
        assert_eq!(km.stroke('\n').map(|s| s.evdev), Some(28));
        assert_eq!(km.stroke('ж'), None);
    }
}
