/** Small shared building blocks: card, buttons, progress bar. */
import type { ButtonHTMLAttributes, ReactNode } from 'react';

export function Card({
  children,
  className = '',
  labelledBy,
}: {
  children: ReactNode;
  className?: string;
  labelledBy?: string;
}) {
  return (
    <section
      aria-labelledby={labelledBy}
      className={`rounded-2xl border border-line bg-card p-5 shadow-sm sm:p-6 ${className}`}
    >
      {children}
    </section>
  );
}

type Variant = 'primary' | 'secondary' | 'danger' | 'ghost';

const VARIANTS: Record<Variant, string> = {
  primary: 'bg-accent text-accent-ink hover:brightness-110 border border-transparent',
  secondary: 'bg-card text-ink border border-line hover:bg-accent-soft',
  danger: 'bg-bad text-white border border-transparent hover:brightness-110 dark:text-page',
  ghost: 'bg-transparent text-muted border border-transparent hover:text-ink hover:bg-accent-soft',
};

export function Button({
  variant = 'secondary',
  className = '',
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant }) {
  return (
    <button
      type="button"
      {...props}
      className={`inline-flex min-h-10 items-center justify-center gap-2 rounded-lg px-4 py-2 text-sm font-semibold transition motion-reduce:transition-none disabled:cursor-not-allowed disabled:opacity-50 ${VARIANTS[variant]} ${className}`}
    />
  );
}

export type Tone = 'accent' | 'ok' | 'warn' | 'bad' | 'muted';

const BAR_TONES: Record<Tone, string> = {
  accent: 'bg-accent',
  ok: 'bg-ok',
  warn: 'bg-warn',
  bad: 'bg-bad',
  muted: 'bg-muted',
};

export function ProgressBar({
  value,
  label,
  tone = 'accent',
  valueText,
  size = 'md',
}: {
  /** 0..100 */
  value: number;
  label: string;
  tone?: Tone;
  valueText?: string;
  size?: 'sm' | 'md';
}) {
  const rounded = Math.round(value);
  return (
    <div
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={rounded}
      aria-valuetext={valueText}
      className={`w-full overflow-hidden rounded-full bg-line ${size === 'sm' ? 'h-1.5' : 'h-2.5'}`}
    >
      <div
        className={`h-full rounded-full transition-[width] duration-200 motion-reduce:transition-none ${BAR_TONES[tone]}`}
        style={{ width: `${value}%` }}
      />
    </div>
  );
}
