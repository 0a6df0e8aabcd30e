/**
 * The settlement (结算) as the national medical-insurance platform reports it: the `setlinfo` of
 * transactions 2207 (outpatient) and 2304 (inpatient), reversed by 2208 / 2305. Pure definitions.
 */

/** Amount fields in the platform's own names; stored and computed as integer fen. */
export const AMOUNT_FIELDS = [
  { field: 'medfee_sumamt', name: 'totalFeesFen', required: true, label: '医疗费总额 total medical fees' },
  { field: 'fulamt_ownpay_amt', name: 'fullyOwnPayFen', required: true, label: '全自费金额 fully self-funded' },
  { field: 'overlmt_selfpay', name: 'overLimitSelfPayFen', required: true, label: '超限价自费 above the price cap' },
  { field: 'preselfpay_amt', name: 'preSelfPayFen', required: false, label: '先行自付金额 class-B upfront self-pay' },
  { field: 'inscp_scp_amt', name: 'inPolicyFen', required: false, label: '符合政策范围金额 in-policy amount' },
  { field: 'act_pay_dedc', name: 'deductibleFen', required: false, label: '实际支付起付线 deductible applied' },
  { field: 'hifp_pay', name: 'pooledFundFen', required: false, label: '统筹基金支出 pooled fund' },
  { field: 'hifmi_pay', name: 'seriousIllnessInsuranceFen', required: false, label: '居民大病保险 serious-illness insurance' },
  { field: 'hifob_pay', name: 'largeExpenseSubsidyFen', required: false, label: '职工大额医疗费用补助 large-expense subsidy' },
  { field: 'maf_pay', name: 'medicalAssistanceFen', required: false, label: '医疗救助基金 medical assistance' },
  { field: 'cvlserv_pay', name: 'civilServantSubsidyFen', required: false, label: '公务员医疗补助 civil-servant subsidy' },
  { field: 'hifes_pay', name: 'enterpriseSupplementFen', required: false, label: '企业补充医疗保险 enterprise supplement' },
  { field: 'oth_pay', name: 'otherFundsFen', required: false, label: '其他支出 other funds' },
  { field: 'fund_pay_sumamt', name: 'fundsTotalFen', required: true, label: '基金支付总额 all funds' },
  { field: 'psn_part_amt', name: 'personBurdenFen', required: true, label: '个人负担总金额 patient burden' },
  { field: 'acct_pay', name: 'personalAccountFen', required: true, label: '个人账户支出 personal account' },
  { field: 'psn_cash_pay', name: 'cashPaidFen', required: true, label: '个人现金支出 paid in cash' },
  { field: 'hosp_part_amt', name: 'hospitalBorneFen', required: false, label: '医院负担金额 borne by the hospital' },
] as const;

export type AmountField = (typeof AMOUNT_FIELDS)[number]['field'];

/** Amounts in fen; an optional field the source did not send is null (not zero). */
export type Amounts = Record<AmountField, number | null>;

/** Identity and classification fields, all required. */
export const TEXT_FIELDS = [
  { field: 'setl_id', maxLength: 30 },
  { field: 'mdtrt_id', maxLength: 30 },
  { field: 'psn_no', maxLength: 30 },
  { field: 'psn_name', maxLength: 50 },
  { field: 'insutype', maxLength: 6 },
  { field: 'med_type', maxLength: 6 },
] as const;

export type TextField = (typeof TEXT_FIELDS)[number]['field'];

/** The transactions whose output is a settlement, and the reversal of each. */
export const SETTLEMENT_INFNOS = { '2207': 'SETTLEMENT', '2304': 'SETTLEMENT', '2208': 'REVERSAL', '2305': 'REVERSAL' } as const;
export type Infno = keyof typeof SETTLEMENT_INFNOS;
export type SettlementKind = (typeof SETTLEMENT_INFNOS)[Infno];

export type SettlementStatus = 'RECEIVED' | 'MATCHED' | 'UNMATCHED' | 'DUPLICATE';
export type UnmatchedReason = 'NO_MEMBER' | 'NO_ENROLMENT' | 'ORIGINAL_NOT_FOUND';
export type RejectionStatus = 'OPEN' | 'RESOLVED' | 'SUPERSEDED';
export type SourceKind = 'PLATFORM' | 'DROP' | 'FILE';

/** A settlement that passed validation, personal data still in clear (never stored so). */
export interface ParsedSettlement {
  infno: Infno;
  kind: SettlementKind;
  setlId: string;
  /** For a reversal: the setl_id of the settlement it cancels (原结算ID, `init_setl_id`). */
  reversesSetlId: string | null;
  mdtrtId: string;
  psnNo: string;
  psnName: string;
  certno: string;
  insutype: string;
  medType: string;
  setlTime: Date;
  diagnoses: string[];
  amounts: Amounts;
}

/** Inpatient medical types start with 2 (docs/design.md); 2304 / 2305 are the inpatient transactions. */
export function isInpatient(medType: string): boolean {
  return medType.startsWith('2');
}
