//! JavaScript Dates (milliseconds since 1970, UTC) as PostgreSQL dates and timestamps: the
//! binary forms, and the text forms PostgreSQL and `Date.prototype.toISOString` write.
//!
//! Both calendars are the proleptic Gregorian one, so the conversion is arithmetic. PostgreSQL
//! writes the year before 1 AD as `0001 BC`; JavaScript (and ISO 8601) as year 0.

use std::fmt::Write;

const MS_PER_DAY: i64 = 86_400_000;
/// 2000-01-01, PostgreSQL's epoch, in days and milliseconds since 1970-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_MS: i64 = PG_EPOCH_DAYS * MS_PER_DAY;
/// The first instant PostgreSQL stores: 4714-11-24 BC, in microseconds since its epoch.
const PG_MIN_MICROS: i64 = -211_813_488_000_000_000;
const PG_MIN_DAYS: i64 = -2_451_545;

fn check_valid(ms: f64) -> Result<i64, String> {
    if ms.is_nan() {
        return Err("invalid Date".into());
    }
    // A valid Date holds whole milliseconds within ±8.64e15, so the cast is exact.
    Ok(ms as i64)
}

fn out_of_range(ms: i64) -> String {
    format!("{} is out of range (PostgreSQL's dates begin in 4714 BC)", iso(ms))
}

/// Microseconds since 2000-01-01 UTC: timestamptz's binary form, and timestamp's read as UTC.
pub(super) fn pg_micros(ms: f64) -> Result<i64, String> {
    let ms = check_valid(ms)?;
    let micros = (ms - PG_EPOCH_MS) * 1000;
    if micros < PG_MIN_MICROS {
        return Err(out_of_range(ms));
    }
    Ok(micros)
}

/// Days since 2000-01-01 of the Date's UTC calendar day: date's binary form.
pub(super) fn pg_days(ms: f64) -> Result<i32, String> {
    let ms = check_valid(ms)?;
    let days = ms.div_euclid(MS_PER_DAY) - PG_EPOCH_DAYS;
    if days < PG_MIN_DAYS {
        return Err(out_of_range(ms));
    }
    // A Date's days are within ±1e8, far inside i32.
    Ok(days as i32)
}

/// The date as PostgreSQL writes it: `2024-03-15`, `0044-03-15 BC`, `10000-01-01`.
pub(super) fn pg_date_text(ms: f64, out: &mut String) -> Result<(), String> {
    let parts = Parts::of(check_valid(ms)?);
    parts.write_pg_date(out);
    parts.write_era(out);
    Ok(())
}

/// The timestamp as PostgreSQL writes it in UTC, to the millisecond: `2024-03-15 10:00:00.000`,
/// with `+00` when `zone` is set, and ` BC` last for years before 1 AD.
pub(super) fn pg_timestamp_text(ms: f64, zone: bool, out: &mut String) -> Result<(), String> {
    let parts = Parts::of(check_valid(ms)?);
    parts.write_pg_date(out);
    let _ = write!(
        out,
        " {:02}:{:02}:{:02}.{:03}",
        parts.hour, parts.minute, parts.second, parts.ms
    );
    if zone {
        out.push_str("+00");
    }
    parts.write_era(out);
    Ok(())
}

/// `Date.prototype.toISOString`'s form (what `JSON.stringify` writes for a Date); None when invalid.
pub(super) fn iso_text(ms: f64) -> Option<String> {
    check_valid(ms).ok().map(iso)
}

fn iso(ms: i64) -> String {
    let p = Parts::of(ms);
    let year = if (0..=9999).contains(&p.year) {
        format!("{:04}", p.year)
    } else {
        format!("{}{:06}", if p.year < 0 { '-' } else { '+' }, p.year.abs())
    };
    format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        p.month, p.day, p.hour, p.minute, p.second, p.ms
    )
}

/// A UTC instant in calendar fields; `year` counts 1 BC as 0, as JavaScript does.
struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    ms: i64,
}

impl Parts {
    fn of(ms: i64) -> Parts {
        let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
        let in_day = ms.rem_euclid(MS_PER_DAY);
        Parts {
            year,
            month,
            day,
            hour: in_day / 3_600_000,
            minute: in_day / 60_000 % 60,
            second: in_day / 1000 % 60,
            ms: in_day % 1000,
        }
    }

    fn write_pg_date(&self, out: &mut String) {
        let year = if self.year > 0 { self.year } else { 1 - self.year };
        let _ = write!(out, "{year:04}-{:02}-{:02}", self.month, self.day);
    }

    fn write_era(&self, out: &mut String) {
        if self.year <= 0 {
            out.push_str(" BC");
        }
    }
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_javascript() {
        assert_eq!(iso_text(0.0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_text(-1.0).unwrap(), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso_text(951_782_400_000.0).unwrap(), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_text(8.64e15).unwrap(), "+275760-09-13T00:00:00.000Z");
        assert_eq!(iso_text(-62_167_219_200_000.0).unwrap(), "0000-01-01T00:00:00.000Z");
        assert_eq!(iso_text(-62_167_219_200_001.0).unwrap(), "-000001-12-31T23:59:59.999Z");
        assert_eq!(iso_text(f64::NAN), None);
    }

    #[test]
    fn postgres_forms_count_bc_years_from_one() {
        let mut out = String::new();
        pg_date_text(-62_167_219_200_000.0, &mut out).unwrap();
        assert_eq!(out, "0001-01-01 BC");
        out.clear();
        pg_timestamp_text(1_710_496_800_123.0, true, &mut out).unwrap();
        assert_eq!(out, "2024-03-15 10:00:00.123+00");
    }

    #[test]
    fn binary_forms_count_from_2000() {
        assert_eq!(pg_micros(946_684_800_000.0), Ok(0));
        assert_eq!(pg_micros(0.0), Ok(-946_684_800_000_000));
        assert_eq!(pg_days(946_684_800_000.0 + 86_399_999.0), Ok(0));
        assert_eq!(pg_days(-1.0), Ok(-10_958));
        // 4714-11-24 BC is the first day PostgreSQL has; the day before is refused.
        let first = (PG_MIN_DAYS + PG_EPOCH_DAYS) * MS_PER_DAY;
        assert_eq!(pg_days(first as f64), Ok(PG_MIN_DAYS as i32));
        assert!(pg_days((first - 1) as f64).is_err());
        assert!(pg_micros((first - 1) as f64).is_err());
    }
}
