import { RECEIPT_SCHEMA_VERSION } from '../constants';
import { ImageReceipt, receiptStillTrue } from './receipt';

const receipt: ImageReceipt = {
  schemaVersion: RECEIPT_SCHEMA_VERSION,
  kind: 'base',
  project: 'root',
  name: 'workspace',
  image: 'workspace-base',
  ref: 'workspace-base:0123456789abcdef',
  tags: ['0123456789abcdef', 'latest'],
  imageId: 'sha256:aaa',
  pushed: false,
  inputHash: '0123456789abcdef0123',
  steps: { total: 2, run: 2, cached: 0 },
  sizeBytes: 1,
  durationMs: 1,
  builder: 'buildkit',
  outcome: 'built',
};
const now = { ref: receipt.ref, imageId: receipt.imageId, pushed: false, digest: undefined };

describe('receiptStillTrue', () => {
  test.each([
    ['the same image, local', true, receipt, now],
    ['the same image, pushed with the same digest', true, { ...receipt, pushed: true, digest: 'sha256:d1' }, { ...now, pushed: true, digest: 'sha256:d1' }],
    ['another image ID under the same ref', false, receipt, { ...now, imageId: 'sha256:bbb' }],
    ['another ref', false, receipt, { ...now, ref: 'workspace-base:fedcba9876543210' }],
    ['pushed now, not before', false, receipt, { ...now, pushed: true, digest: 'sha256:d1' }],
    ['pushed, but the registry holds another digest', false, { ...receipt, pushed: true, digest: 'sha256:d1' }, { ...now, pushed: true, digest: 'sha256:d2' }],
    ['no receipt at all', false, undefined, now],
    ['a receipt of another schema version', false, { ...receipt, schemaVersion: 0 }, now],
  ])('%s → %s', (_label, expected, current, observed) => {
    expect(receiptStillTrue(current, observed)).toBe(expected);
  });
});
