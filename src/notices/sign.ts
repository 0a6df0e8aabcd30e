import { pdflibAddPlaceholder } from '@signpdf/placeholder-pdf-lib';
import { SignPdf, Signer } from '@signpdf/signpdf';
import type { PDFDocument } from 'pdf-lib';
import { sealDocument, type Seal } from '../seals/cms/seal.ts';

/**
 * The notice's PDF signature (adbe.pkcs7.detached): @signpdf reserves the /Contents placeholder and
 * fills in the signature over the byte ranges around it; the signature itself is the project's own
 * CMS seal (src/seals/cms: detached SignedData, SHA-256, RSA, the seal's certificate and chain
 * embedded), made with the same union seal that seals the bank files. No PKCS#12 is rebuilt and
 * the key stays behind its SealSigner (an HSM fits as for bank files).
 */

/** Room for the CMS: the seal and its chain's certificates plus the signature, with margin. */
const SIGNATURE_BYTES = 12_288;

class UnionSealSigner extends Signer {
  constructor(private readonly seal: Seal, private readonly time: Date) {
    super();
  }

  // The bytes given are the PDF without its /Contents value: exactly what the detached CMS covers.
  override async sign(pdf: Buffer, signingTime?: Date): Promise<Buffer> {
    return sealDocument(pdf, this.seal, signingTime ?? this.time);
  }
}

export interface SignatureInfo {
  /** Who signs, as PDF readers show it (the union). */
  name: string;
  reason: string;
  location: string;
}

/** Adds the signature field to the rendered notice, saves it and signs it: the sealed PDF's bytes. */
export async function sealPdf(doc: PDFDocument, seal: Seal, signingTime: Date, info: SignatureInfo): Promise<Buffer> {
  pdflibAddPlaceholder({
    pdfDoc: doc, name: info.name, reason: info.reason, location: info.location, contactInfo: '',
    signingTime, signatureLength: SIGNATURE_BYTES, subFilter: 'adbe.pkcs7.detached', appName: 'Mutual Aid Hub',
  });
  // Without object streams: the signer finds the /ByteRange placeholder in the plain file.
  const unsigned = Buffer.from(await doc.save({ useObjectStreams: false }));
  // A fresh SignPdf: the shared default instance keeps the last signature in a field.
  return new SignPdf().sign(unsigned, new UnionSealSigner(seal, signingTime), signingTime);
}
