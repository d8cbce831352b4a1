import { TransferApp } from './components/transfer-app';
import { getRuntimeConfig } from './runtime-config';

export default async function Page() {
  const config = await getRuntimeConfig();
  return <TransferApp bridgeUrl={config.bridgeUrl} access={config.access} configError={config.configError} />;
}
