// Language, numbers, dates and names: Vietnamese by default, English on request.
export const LANGS = { vi: 'vi-VN', en: 'en-GB' };
export const TIME_ZONE = 'Asia/Ho_Chi_Minh';

/** Today in Asia/Ho_Chi_Minh as YYYY-MM-DD. */
export function today() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

/** A calendar date (YYYY-MM-DD) shifted by `days`. */
export function addDays(date, days) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The Monday of a date's ISO week. */
export function monday(date) {
  return addDays(date, -((new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7));
}

export function addMonths(date, months) {
  const d = new Date(`${date.slice(0, 7)}-01T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
}

/** dd/mm/yyyy, in either language (calendar dates carry no time zone of their own). */
export function formatDate(date) {
  if (!date) return '';
  const [y, m, d] = date.split('-');
  return `${d}/${m}/${y}`;
}

const numberFormats = {};
export function formatNumber(value, lang) {
  if (value === null || value === undefined) return '—';
  numberFormats[lang] ||= new Intl.NumberFormat(LANGS[lang], { maximumFractionDigits: 0 });
  return numberFormats[lang].format(value);
}

const percentFormats = {};
export function formatPercent(value, lang) {
  if (value === null || value === undefined) return '—';
  percentFormats[lang] ||= new Intl.NumberFormat(LANGS[lang], { style: 'percent', maximumFractionDigits: 1 });
  return percentFormats[lang].format(value);
}

export const formatValue = (indicator, value, lang) =>
  indicator.rate ? formatPercent(value, lang) : formatNumber(value, lang);

/** Vietnamese dictionary order, digit runs by value ("Tổ 2" before "Tổ 10"). */
export const collator = new Intl.Collator('vi', { numeric: true });
