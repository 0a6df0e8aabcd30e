/**
 * Bank calendar days (pure): business days are the kernel's working days with the configured bank
 * holidays (BANK_HOLIDAYS: 春节, 国庆 ...).
 */
export { isWorkingDay as isBusinessDay, addWorkingDays as addBusinessDays } from '../../kernel/workingDays.ts';
