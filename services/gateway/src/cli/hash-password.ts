// Prints a scrypt hash for AUTH_USERS (`name:<hash>[:user_id]`). The password is read from stdin,
// never from argv (argv is visible to every process on the host and lands in shell history).
import { stderr, stdin, stdout } from 'node:process';
import { hashPassword } from '../auth/password-hash';

async function readHidden(): Promise<string> {
  // A terminal: prompt and read without echo. A pipe: read it all (one trailing newline dropped).
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  stderr.write('Password: ');
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  let password = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.off('data', onData);
          stdin.pause();
          stderr.write('\n');
          return resolve(password);
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          return reject(new Error('cancelled'));
        }
        if (ch === '\u007f') password = password.slice(0, -1);
        else password += ch;
      }
    };
    stdin.on('data', onData);
  });
}

const password = await readHidden();
if (password.length === 0) {
  stderr.write('hash-password: the password is empty (pipe it in, or type it at the prompt)\n');
  process.exit(1);
}
stdout.write(`${await hashPassword(password)}\n`);
