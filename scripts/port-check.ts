/** Which of the ports `npm start` is about to use are taken, asked before anything starts. */
import net from 'node:net';

export interface PortUse {
  part: string;
  host: string;
  port: number;
  /** The setting that changes it. */
  setting: string;
}

/** The uses whose port cannot be bound now (port 0 always can). */
export async function takenPorts(uses: readonly PortUse[]): Promise<PortUse[]> {
  const taken: PortUse[] = [];
  for (const use of uses) if (use.port !== 0 && !(await canListen(use.host, use.port))) taken.push(use);
  return taken;
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
