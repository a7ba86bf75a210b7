//! What the kernel asks of a DualSense before `hid-playstation` binds to it: the HID report descriptor and
//! the three feature reports it reads at probe (calibration 0x05, pairing 0x09 with the MAC address,
//! firmware 0x20). The descriptor is lumen's own, vendor-defined: `hid-playstation` parses the reports by
//! their byte layout, not by usages, so the descriptor only has to declare the reports' ids and sizes.

/// Sony's USB vendor id.
pub const VENDOR: u32 = 0x054c;
/// DualSense (CFI-ZCT1) product id.
pub const PRODUCT: u32 = 0x0ce6;
/// Device version announced.
pub const VERSION: u32 = 0x0100;

/// Input report 0x01 (USB): 64 bytes with the id.
pub const INPUT_REPORT_ID: u8 = 0x01;
/// Bytes of the USB input report, id included.
pub const INPUT_REPORT_LEN: usize = 64;
/// Output report 0x02 (USB).
pub const OUTPUT_REPORT_ID: u8 = 0x02;
/// Bytes of the USB output report, id included.
pub const OUTPUT_REPORT_LEN: usize = 63;
/// Feature report: motion sensor calibration.
pub const FEATURE_CALIBRATION: u8 = 0x05;
/// Feature report: pairing info (the MAC address).
pub const FEATURE_PAIRING: u8 = 0x09;
/// Feature report: firmware info.
pub const FEATURE_FIRMWARE: u8 = 0x20;
const CALIBRATION_LEN: usize = 41;
const PAIRING_LEN: usize = 20;
const FIRMWARE_LEN: usize = 64;

/// The report descriptor: one vendor-defined application collection with byte arrays for input 0x01
/// (63 bytes), output 0x02 (62) and features 0x05 (40), 0x09 (19) and 0x20 (63) — sizes without the id.
pub const REPORT_DESCRIPTOR: &[u8] = &[
    0x06,
    0x00,
    0xFF, // Usage Page (vendor 0xFF00)
    0x09,
    0x01, // Usage (1)
    0xA1,
    0x01, // Collection (Application)
    0x15,
    0x00, //   Logical Minimum (0)
    0x26,
    0xFF,
    0x00, //   Logical Maximum (255)
    0x75,
    0x08, //   Report Size (8)
    0x85,
    INPUT_REPORT_ID,
    0x09,
    0x20,
    0x95,
    (INPUT_REPORT_LEN - 1) as u8,
    0x81,
    0x02, // Input (Data,Var,Abs)
    0x85,
    OUTPUT_REPORT_ID,
    0x09,
    0x21,
    0x95,
    (OUTPUT_REPORT_LEN - 1) as u8,
    0x91,
    0x02, // Output
    0x85,
    FEATURE_CALIBRATION,
    0x09,
    0x22,
    0x95,
    (CALIBRATION_LEN - 1) as u8,
    0xB1,
    0x02, // Feature
    0x85,
    FEATURE_PAIRING,
    0x09,
    0x23,
    0x95,
    (PAIRING_LEN - 1) as u8,
    0xB1,
    0x02, // Feature
    0x85,
    FEATURE_FIRMWARE,
    0x09,
    0x24,
    0x95,
    (FIRMWARE_LEN - 1) as u8,
    0xB1,
    0x02, // Feature
    0xC0, // End Collection
];

/// Calibration: gyro ±10000 raw at ±500 deg/s speed and accel ±10000 raw per g, no bias, so that
/// `hid-playstation` reports gyro = raw × 51.2 (1/1024 deg/s) and accel = raw × 0.8192 (1/8192 g):
/// raw gyro = deg/s × [`GYRO_RAW_PER_DEG_S`], raw accel = g × [`ACCEL_RAW_PER_G`].
const GYRO_RANGE: i16 = 10000;
const GYRO_SPEED: i16 = 500;
/// Raw gyro units per degree per second (from the calibration: 2 × 10000 raw span over 2 × 500 deg/s).
pub const GYRO_RAW_PER_DEG_S: f32 = 20.0;
/// Raw accelerometer units per g (from the calibration: ±10000 raw = ±1 g).
pub const ACCEL_RAW_PER_G: f32 = 10000.0;

/// The feature report `id` of the pad with MAC address `mac` (as written, most significant byte first),
/// or `None` for a report a DualSense does not have.
pub fn feature_report(id: u8, mac: [u8; 6]) -> Option<Vec<u8>> {
    let mut r = match id {
        FEATURE_CALIBRATION => vec![0u8; CALIBRATION_LEN],
        FEATURE_PAIRING => vec![0u8; PAIRING_LEN],
        FEATURE_FIRMWARE => vec![0u8; FIRMWARE_LEN],
        _ => return None,
    };
    r[0] = id;
    match id {
        FEATURE_CALIBRATION => {
            // Bias of pitch, yaw, roll (0), then plus/minus per gyro axis, speed plus/minus, plus/minus per
            // accel axis; all little-endian i16 from byte 1.
            let values: [i16; 20] = [
                0,
                0,
                0, // gyro biases
                GYRO_RANGE,
                -GYRO_RANGE,
                GYRO_RANGE,
                -GYRO_RANGE,
                GYRO_RANGE,
                -GYRO_RANGE, // gyro ±
                GYRO_SPEED,
                GYRO_SPEED, // speed ±
                ACCEL_RAW_PER_G as i16,
                -(ACCEL_RAW_PER_G as i16), // accel x ±
                ACCEL_RAW_PER_G as i16,
                -(ACCEL_RAW_PER_G as i16), // accel y ±
                ACCEL_RAW_PER_G as i16,
                -(ACCEL_RAW_PER_G as i16), // accel z ±
                0,
                0,
                0,
            ];
            for (i, v) in values.iter().enumerate() {
                r[1 + 2 * i..3 + 2 * i].copy_from_slice(&v.to_le_bytes());
            }
        }
        FEATURE_PAIRING => {
            // The address least significant byte first.
            for (i, b) in mac.iter().rev().enumerate() {
                r[1 + i] = *b;
            }
        }
        _ => {
            r[1..12].copy_from_slice(b"Dec 05 2026");
            r[12..20].copy_from_slice(b"00:00:00");
            r[20..22].copy_from_slice(&0x0003u16.to_le_bytes()); // firmware type
            r[22..24].copy_from_slice(&0x0001u16.to_le_bytes()); // software series
            r[24..28].copy_from_slice(&0x0000_0001u32.to_le_bytes()); // hardware version
            r[28..32].copy_from_slice(&0x0110_0000u32.to_le_bytes()); // firmware version
            r[44..46].copy_from_slice(&0x0224u16.to_le_bytes()); // update version 2.36
        }
    }
    Some(r)
}

/// A locally administered MAC address for pad `slot` of the worker process `pid` (unique on the machine while
/// the worker lives, which `hid-playstation` requires: it refuses a second pad with the same address).
pub fn mac_address(pid: u32, slot: u8) -> [u8; 6] {
    let p = pid.to_be_bytes();
    [0x02, p[0], p[1], p[2], p[3], slot]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_declares_each_report_with_its_size() {
        let d = REPORT_DESCRIPTOR;
        // Each report: Report ID, Usage, Report Count (size without the id), main item.
        for (id, len, main) in [(1u8, 64usize, 0x81u8), (2, 63, 0x91), (5, 41, 0xB1), (9, 20, 0xB1), (0x20, 64, 0xB1)] {
            let at = d.windows(2).position(|w| w == [0x85, id]).unwrap_or_else(|| panic!("report {id:#x}"));
            assert_eq!(d[at + 4..at + 8], [0x95, (len - 1) as u8, main, 0x02], "report {id:#x}");
        }
        assert_eq!(d.last(), Some(&0xC0));
    }

    #[test]
    fn feature_reports_have_the_sizes_and_fields_the_driver_reads() {
        let mac = mac_address(0x0001_2345, 3);
        assert_eq!(mac, [0x02, 0x00, 0x01, 0x23, 0x45, 0x03]);
        let cal = feature_report(FEATURE_CALIBRATION, mac).unwrap();
        assert_eq!((cal.len(), cal[0]), (41, 5));
        let le = |i: usize| i16::from_le_bytes([cal[i], cal[i + 1]]);
        assert_eq!((le(1), le(7), le(9), le(19), le(21)), (0, 10000, -10000, 500, 500));
        assert_eq!((le(23), le(25), le(33)), (10000, -10000, -10000));
        let pairing = feature_report(FEATURE_PAIRING, mac).unwrap();
        assert_eq!((pairing.len(), &pairing[..7]), (20, &[9, 0x03, 0x45, 0x23, 0x01, 0x00, 0x02][..]));
        let fw = feature_report(FEATURE_FIRMWARE, mac).unwrap();
        assert_eq!((fw.len(), fw[0], u16::from_le_bytes([fw[44], fw[45]])), (64, 0x20, 0x0224));
        assert_eq!(feature_report(0x08, mac), None);
    }
}
