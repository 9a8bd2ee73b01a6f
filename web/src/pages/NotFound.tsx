import { Link } from "react-router-dom";

export function NotFoundPage() {
  return (
    <main className="mx-auto max-w-md p-10 text-center">
      <h1 className="text-xl font-semibold">Page not found</h1>
      <p className="mt-2 text-sm text-slate-600">Nothing lives at this address.</p>
      <Link to="/graphs" className="mt-4 inline-block text-indigo-700 underline">
        Go to your graphs
      </Link>
    </main>
  );
}
