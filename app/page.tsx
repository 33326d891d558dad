export default function Home() {
  return <main>Perfect</main>;
}
